// API keys: how they look, how they are stored, how they are compared. A key is a recognizable
// prefix and 32 random bytes (`wjk_` + base64url), so a leaked one is easy to spot in logs and
// code; the service keeps only its SHA-256, and looks a presented key up by that hash (one
// indexed read), then compares the digests in constant time. The admin token is compared the
// same way. Neither a key nor the token is ever logged (src/server.ts redacts the header).

import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';

export const KEY_PREFIX = 'wjk_';
const KEY_BYTES = 32;

export interface NewKey {
  readonly id: string;
  /** The key itself: shown once, when it is created. */
  readonly key: string;
  readonly hash: string;
}

export function generateKey(): NewKey {
  const key = KEY_PREFIX + randomBytes(KEY_BYTES).toString('base64url');
  return { id: randomUUID(), key, hash: hashKey(key) };
}

/** Hex SHA-256 of a key or token: what the store holds and is searched by. */
export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Whether two hex digests are equal, in time independent of where they differ. */
export function sameDigest(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/** Whether `presented` is the admin token, compared through digests in constant time. */
export function isAdminToken(presented: string, adminTokenHash: string): boolean {
  return sameDigest(hashKey(presented), adminTokenHash);
}

/** The token of an `Authorization: Bearer <token>` header, if it is one. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^Bearer[ ]+([^\s]+)\s*$/i.exec(header);
  return m ? m[1] : undefined;
}
