/**
 * Errors raised by the client.
 *
 *   StreamingUMAPError         the service answered with an error (status, detail, field, row)
 *   ├── JobNotFoundError       404: no such job (or another key's)
 *   ├── ModelNotFoundError     404: no such kept model (transform, models/{id}, init_from)
 *   ├── UnauthorizedError      401: the service needs an API key (the `token` option), or a
 *   │                          valid one; 403: a cross-site refusal; a socket closed with 4401
 *   └── ControlRefusedError    the service refused cancel/pause/resume (409 or a negative ack)
 *   TransportError             the service could not be reached
 */

export class StreamingUMAPError extends Error {
  override name = 'StreamingUMAPError';

  constructor(
    readonly status: number,
    readonly detail: string,
    readonly field: string | null = null,
    readonly row: number | null = null,
  ) {
    super(`${status}: ${detail}`);
  }
}

export class JobNotFoundError extends StreamingUMAPError {
  override name = 'JobNotFoundError';
}

export class ModelNotFoundError extends StreamingUMAPError {
  override name = 'ModelNotFoundError';
}

export class UnauthorizedError extends StreamingUMAPError {
  override name = 'UnauthorizedError';
}

export class ControlRefusedError extends StreamingUMAPError {
  override name = 'ControlRefusedError';
}

export class TransportError extends Error {
  override name = 'TransportError';
}
