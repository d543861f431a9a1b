// The error envelope of API.md and the status each error code maps to. The table is part of
// the HTTP contract, so it lives with the schemas; src/app.ts's error handler applies it.

import { z } from 'zod';
import type { ErrorCode } from '../src/core/errors.ts';

/** Codes the HTTP layer itself produces, beyond those of the JIT's typed errors. */
export type HttpErrorCode =
  | 'PayloadTooLarge'
  | 'NotFound'
  | 'UnsupportedMediaType'
  | 'Unauthorized'
  | 'Forbidden'
  | 'TooManyRequests'
  | 'TenantNotFound'
  | 'TenantExists'
  | 'StoreUnavailable'
  | 'Internal';

export type ApiErrorCode = ErrorCode | HttpErrorCode;

export const STATUS_BY_CODE = {
  BadRequest: 400,
  TypeMismatch: 400,
  Unauthorized: 401,
  Forbidden: 403,
  DylibNotFound: 404,
  ModuleNotFound: 404,
  TenantNotFound: 404,
  TenantExists: 409,
  TooManyRequests: 429,
  StoreUnavailable: 503,
  SymbolsNotFound: 404,
  NotFound: 404,
  DylibExists: 409,
  DuplicateDefinition: 409,
  PayloadTooLarge: 413,
  UnsupportedMediaType: 415,
  InvalidModule: 422,
  Trap: 422,
  StackOverflow: 422,
  ExecutionTimeout: 422,
  ResourceExhausted: 422,
  FailedToMaterialize: 424,
  Internal: 500,
} as const satisfies Record<ApiErrorCode, number>;

export function isApiErrorCode(code: unknown): code is ApiErrorCode {
  return typeof code === 'string' && Object.hasOwn(STATUS_BY_CODE, code);
}

/** What each code means, in a few words: the OpenAPI document's per-status descriptions. */
export const CODE_SUMMARY: Readonly<Record<ApiErrorCode, string>> = {
  BadRequest: 'the request fails validation or is malformed',
  TypeMismatch: 'the arguments do not match the signature, or the symbol is not of the kind the route needs',
  Unauthorized: 'no valid credential',
  Forbidden: 'the credential lacks the access the route needs',
  DylibNotFound: 'a dylib the request names does not exist',
  ModuleNotFound: 'the dylib has no such module',
  TenantNotFound: 'no such tenant',
  TenantExists: 'the tenant name is taken',
  TooManyRequests: 'a request rate limit is reached (Retry-After)',
  StoreUnavailable: 'the store cannot take the request, or the service is recovering; nothing took effect (Retry-After)',
  SymbolsNotFound: 'no dylib in the link order defines the symbols',
  NotFound: 'no such key',
  DylibExists: 'the dylib name is taken',
  DuplicateDefinition: 'the dylib already defines a symbol the request would define',
  PayloadTooLarge: 'the body or module is over its size limit',
  UnsupportedMediaType: 'the route does not take this Content-Type',
  InvalidModule: 'the module does not parse, decode or validate',
  Trap: 'the wasm code trapped',
  StackOverflow: 'the call stack was exhausted',
  ExecutionTimeout: 'the call ran past its time limit',
  ResourceExhausted: 'a configured limit was hit (details.limit)',
  FailedToMaterialize: "compiling or linking a definition the request needs failed",
  Internal: 'a bug in the service',
};

// Loose on purpose: each code carries its own details next to code and message, and a
// schema that rejected an unexpected detail (or a code a route's documentation does not list)
// would turn an error report into a 500.
export const ErrorEnvelope = z
  .object({
    error: z.looseObject({
      code: z.string().describe(`One of: ${Object.keys(STATUS_BY_CODE).join(', ')}.`),
      message: z.string(),
    }),
  })
  .describe('Every error: {"error": {"code", "message", ...details}}.');
export type ErrorEnvelope = z.infer<typeof ErrorEnvelope>;

/** The codes a route declares for one error status: read by the OpenAPI document only (src/openapi/). */
export const declaredErrorCodes = z.registry<{ codes: readonly ApiErrorCode[] }>();

type StatusOf<C extends ApiErrorCode> = (typeof STATUS_BY_CODE)[C];

/**
 * Response-schema entries for the error codes a route answers beyond those every route can
 * (see src/openapi/errorDocs.ts), one entry per status. Each is the loose envelope, so
 * serialization accepts any code; the codes are kept beside it for the document, which shows
 * `code` as their enum.
 */
export function errorResponses<C extends ApiErrorCode>(...codes: C[]): Record<StatusOf<C>, typeof ErrorEnvelope> {
  const byStatus = new Map<number, C[]>();
  for (const code of codes) {
    const status = STATUS_BY_CODE[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const out: Partial<Record<number, typeof ErrorEnvelope>> = {};
  for (const [status, statusCodes] of byStatus) {
    // A schema of its own per entry, so the registry can tell the routes' entries apart.
    const envelope = ErrorEnvelope.clone();
    declaredErrorCodes.add(envelope, { codes: statusCodes });
    out[status] = envelope;
  }
  return out as Record<StatusOf<C>, typeof ErrorEnvelope>;
}

/**
 * An error the HTTP layer raises itself (a module over the size limit, an unsupported body),
 * reported in the same envelope as the JIT's errors.
 */
export class HttpError extends Error {
  readonly code: HttpErrorCode | 'BadRequest';
  readonly #details: Record<string, unknown>;
  constructor(code: HttpErrorCode | 'BadRequest', message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'HttpError';
    this.code = code;
    this.#details = details;
  }
  details(): Record<string, unknown> {
    return { ...this.#details };
  }
}
