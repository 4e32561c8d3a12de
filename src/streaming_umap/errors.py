"""One exception hierarchy for the whole service.

    StreamingUMAPError
    ├── ConfigError                 bad environment settings (startup)
    ├── RequestError                the caller's fault; mapped to a 4xx in web/errors.py
    │   ├── MalformedBody           400: not parseable
    │   ├── InvalidInput            422: a field or a value is out of range
    │   ├── PayloadTooLarge         413: body bytes or rows x dims over the limit
    │   ├── UnsupportedMediaType    415 (also a simple-request type on a state change)
    │   ├── Unauthorized            401: no API key, or not a valid one, where keys are needed
    │   ├── Forbidden               403: a cross-site request (a foreign Origin)
    │   ├── NotFound                404
    │   │   ├── JobNotFound         404: unknown job id
    │   │   └── ModelNotFound       404: unknown model id
    │   ├── JobStateConflict        409: the job is not in a state that allows it
    │   ├── ResultGone              410: the result expired
    │   ├── QueueFull               429
    │   │   └── QuotaExceeded       429: this key's jobs or stored bytes are at its quota
    │   ├── ServiceUnavailable      503: no worker could take it in time
    │   └── StorageFull             507: the disk cannot take the submitted data
    └── JobError                    raised inside a worker, fails one job
        ├── JobCancelled            a checkpoint saw a cancel request
        ├── WorkerLost              the worker process died under the job
        ├── DeviceOutOfMemory       the GPU ran out of memory; the worker stays usable
        └── DeviceFault             any other CUDA error; the worker is retired
"""

from __future__ import annotations

import errno


class StreamingUMAPError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(StreamingUMAPError):
    """An environment setting is not valid."""


class RequestError(StreamingUMAPError):
    status_code = 400

    def __init__(
        self, detail: str, *, field: str | None = None, row: int | None = None
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.row = row

    def to_dict(self) -> dict[str, object]:
        return {"detail": self.detail, "field": self.field, "row": self.row}


class MalformedBody(RequestError):
    status_code = 400


class InvalidInput(RequestError):
    status_code = 422


class PayloadTooLarge(RequestError):
    status_code = 413


class UnsupportedMediaType(RequestError):
    status_code = 415


class Unauthorized(RequestError):
    """No API key, or one that is unknown, revoked or mistyped, where keys are required."""

    status_code = 401


class Forbidden(RequestError):
    status_code = 403


class NotFound(RequestError):
    status_code = 404


class JobNotFound(NotFound):

    def __init__(self, job_id: str) -> None:
        super().__init__(f"no job with id {job_id!r}")
        self.job_id = job_id


class ModelNotFound(NotFound):

    def __init__(self, model_id: str, field: str | None = None) -> None:
        super().__init__(f"no model with id {model_id!r} (GET /umap/streaming/models lists the "
                         "models this key may use)", field=field)
        self.model_id = model_id


class JobStateConflict(RequestError):
    status_code = 409


class ResultGone(RequestError):
    status_code = 410


class QueueFull(RequestError):
    status_code = 429

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class QuotaExceeded(QueueFull):
    """A key's own limit (jobs queued and running, bytes stored) is reached for now."""


class ServiceUnavailable(RequestError):
    status_code = 503


class StorageFull(RequestError):
    """The server's disk cannot take the submitted data (nothing of it is kept)."""

    status_code = 507


def is_disk_full(exc: BaseException) -> bool:
    """An OS error saying the disk (or the user's quota) is full."""
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


class JobError(StreamingUMAPError):
    """Fails the one job it is raised under."""


class JobCancelled(JobError):
    """Raised at a checkpoint once a cancel request has been seen."""


class WorkerLost(JobError):
    """The worker process died while it held the job."""


class DeviceOutOfMemory(JobError):
    """The device ran out of memory under this job; the worker can take the next one."""


class DeviceFault(JobError):
    """A CUDA error that may leave the device context unusable: retire the worker."""
