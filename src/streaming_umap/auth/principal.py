"""The caller of a request, and the rule that says what it may see."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Quota:
    """Limits of one key: queued and running jobs, bytes per upload, bytes stored
    (inputs of active jobs and results kept). None: no limit of its own."""

    max_jobs: int | None = None
    max_upload_bytes: int | None = None
    max_stored_bytes: int | None = None


@dataclass(frozen=True)
class Principal:
    """Who a request comes from.

    ``key_id`` is the API key's id (None: no key); it is what new jobs record as their
    owner. ``admin`` sees and controls every job, its own or not. ``authenticated`` is
    False for a caller without a key where keys are required: it reaches only the open
    endpoints (``/health`` shows it the status alone).
    """

    key_id: str | None
    name: str
    admin: bool = False
    authenticated: bool = True
    quota: Quota = Quota()

    @property
    def owner(self) -> str | None:
        """The owner recorded on what this principal creates."""
        return self.key_id

    def may_see(self, owner: str | None) -> bool:
        """Whether this principal may see and control something owned by ``owner``
        (jobs now; models get the same owner column and the same rule)."""
        return self.admin or (self.key_id is not None and owner == self.key_id)

    def __repr__(self) -> str:
        role = "admin" if self.admin else ("key" if self.key_id else "anonymous")
        return f"Principal({self.name!r}, {role}, id={self.key_id})"


# Authentication off: every caller is this one, and sees everything (a laptop's server).
LOCAL = Principal(key_id=None, name="local", admin=True)
# Keys required and none (or none valid) sent: the open endpoints only.
ANONYMOUS = Principal(key_id=None, name="anonymous", admin=False, authenticated=False)
