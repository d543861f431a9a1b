// Base64 request fields (memory writes, JSON module binaries): the same strings z.base64()
// accepts, checked in one pass. z.base64() runs its pattern, a whitespace test and then atob()
// over the whole string: for a 256 KiB memory write (350 KB of base64) that was ~3 ms of the
// server's main thread per request, several times the cost of decoding the bytes themselves.
// Refused strings fail the same way (BadRequest naming the field, zod's own message), and the
// OpenAPI document still shows z.base64()'s schema.

import { z } from 'zod';
import { documentAs } from './docs.ts';

/** The base64 alphabet, then at most two pad characters at the very end. */
const SHAPE = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Padded standard base64 (RFC 4648 section 4), or the empty string: exactly z.base64()'s
 * pattern, which is whole 4-character groups whose last may end in "=" or "==".
 */
export function isBase64(s: string): boolean {
  return s.length % 4 === 0 && SHAPE.test(s);
}

/** A string of padded base64 (documented as z.base64() documents it). */
export function base64Field(description: string) {
  const runtime = z
    .string()
    .refine(isBase64, { error: 'Invalid base64-encoded string' })
    .describe(description);
  return documentAs(runtime, z.base64());
}
