// The error responses an operation documents: the codes its route declares (errorResponses in
// schemas/errors.ts) plus those every route of its kind can answer, grouped by status, each
// status an envelope whose `code` is the enum of its codes. Documentation only: the route's
// runtime schema stays the loose envelope, so answering a code missing here is not a 500.

import { z } from 'zod';
import { type ApiErrorCode, CODE_SUMMARY, declaredErrorCodes, STATUS_BY_CODE } from '../../schemas/errors.ts';
import type { RouteAccess } from '../tenants/Authenticator.ts';

export interface RouteFacts {
  readonly access: RouteAccess | undefined;
  /** ADMIN_TOKEN is set: authentication and its failures are on. */
  readonly authOn: boolean;
  /** The request has something to validate (params, query, a body, or a method that reads one). */
  readonly takesInput: boolean;
  readonly hasBody: boolean;
}

/** The codes any route of this kind can answer, whatever it does. */
export function implicitCodes(facts: RouteFacts): ApiErrorCode[] {
  const codes: ApiErrorCode[] = ['Internal'];
  if (facts.takesInput) codes.push('BadRequest');
  if (facts.hasBody) codes.push('PayloadTooLarge', 'UnsupportedMediaType');
  const guarded = facts.access !== undefined && facts.access !== 'public';
  // While recovery runs (and while a tenant's session moves between replicas) every guarded
  // route answers StoreUnavailable.
  if (guarded) codes.push('StoreUnavailable');
  if (guarded && facts.authOn) codes.push('Unauthorized', 'Forbidden');
  // A tenant's request rate applies to its session's routes in open mode too; with auth on,
  // failed authentications from an address block it on every guarded route.
  if (guarded && (facts.authOn || facts.access !== 'admin')) codes.push('TooManyRequests');
  return codes;
}

function describeStatus(status: number, codes: readonly ApiErrorCode[]): string {
  return `${status}: ${codes.map((c) => `${c} (${CODE_SUMMARY[c]})`).join('; ')}. Error envelope.`;
}

/** The documented envelope for one status: `code` is the enum of what it can be. */
function envelopeFor(status: number, codes: readonly ApiErrorCode[]): z.ZodType {
  const [first, ...rest] = codes;
  if (first === undefined) throw new Error(`status ${status}: no codes`);
  return z
    .object({
      error: z.looseObject({
        code: z.enum([first, ...rest]),
        message: z.string().describe('One clear sentence.'),
      }),
    })
    .describe(describeStatus(status, codes));
}

/**
 * The route's response map with every declared error entry replaced by its documented envelope
 * and the implicit codes added (success entries are kept as they are).
 */
export function documentErrors(response: Readonly<Record<string, unknown>>, facts: RouteFacts): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const codes = new Set<ApiErrorCode>(implicitCodes(facts));
  for (const [status, schema] of Object.entries(response)) {
    const declared = schema instanceof z.core.$ZodType ? declaredErrorCodes.get(schema) : undefined;
    if (declared === undefined) out[status] = schema;
    else for (const c of declared.codes) codes.add(c);
  }
  const byStatus = new Map<number, ApiErrorCode[]>();
  for (const c of [...codes].sort()) {
    const status = STATUS_BY_CODE[c];
    byStatus.set(status, [...(byStatus.get(status) ?? []), c]);
  }
  for (const [status, statusCodes] of [...byStatus].sort(([a], [b]) => a - b)) {
    if (out[status] !== undefined) throw new Error(`status ${status} is both a success schema and an error code's`);
    out[status] = envelopeFor(status, statusCodes);
  }
  return out;
}
