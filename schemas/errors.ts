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

// Loose on purpose: each code carries its own details next to code and message, and a
// schema that rejected an unexpected detail would turn an error report into a 500.
export const ErrorEnvelope = z
  .object({
    error: z.looseObject({
      code: z.string().describe(`One of: ${Object.keys(STATUS_BY_CODE).join(', ')}.`),
      message: z.string(),
    }),
  })
  .describe('Every error: {"error": {"code", "message", ...details}}.');
export type ErrorEnvelope = z.infer<typeof ErrorEnvelope>;

z.globalRegistry.add(ErrorEnvelope, { id: 'Error' });

/** Response-schema entries for the error statuses a route can answer with (for docs and serialization). */
export function errorResponses<S extends number>(...statuses: S[]): Record<S, typeof ErrorEnvelope> {
  const out = {} as Record<S, typeof ErrorEnvelope>;
  for (const s of statuses) out[s] = ErrorEnvelope;
  return out;
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
