// The errors of authentication and rate limiting, in the shape the HTTP layer's error handler
// turns into API.md's envelope (a stable `code`, JSON-safe `details()`); `retryAfterSeconds`
// becomes a Retry-After header.

abstract class AccessError extends Error {
  abstract readonly code: 'Unauthorized' | 'Forbidden' | 'TooManyRequests';

  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }

  details(): Record<string, unknown> {
    return {};
  }
}

/** No credential, or one that is not valid (answered with WWW-Authenticate: Bearer). */
export class Unauthorized extends AccessError {
  readonly code = 'Unauthorized';
}

/** A valid credential that may not do this. */
export class Forbidden extends AccessError {
  readonly code = 'Forbidden';
}

export class TooManyRequests extends AccessError {
  readonly code = 'TooManyRequests';
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds: number) {
    super(message);
    this.retryAfterSeconds = Math.max(1, retryAfterSeconds);
  }
}
