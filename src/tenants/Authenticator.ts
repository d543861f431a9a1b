// Who a request acts as. Without ADMIN_TOKEN the service is open: every request acts in the one
// tenant `default`, with every scope. With it, a request must carry `Authorization: Bearer
// <token>`: the admin token (which may act in a tenant's session with `X-Tenant: <name>`), or a
// tenant's key, found by its hash and checked in constant time, with the scopes it was made with.
// Revoking a key deletes it from the store, and every request looks the key up: revocation
// takes effect at once. Failed authentications are counted per client address and refused
// (TooManyRequests) past AUTH_FAILURES_PER_MINUTE.

import { Forbidden, TooManyRequests, Unauthorized } from './errors.ts';
import type { Scope, Store } from '../store/Store.ts';
import { bearerToken, hashKey, isAdminToken, sameDigest } from './apiKey.ts';

export type Principal =
  /** No ADMIN_TOKEN: the one tenant, every scope. */
  | { readonly kind: 'open'; readonly tenant: string }
  /** The admin token; `tenant` when it acts in a tenant's session (X-Tenant). */
  | { readonly kind: 'admin'; readonly tenant: string | undefined }
  | { readonly kind: 'key'; readonly tenant: string; readonly scopes: readonly Scope[]; readonly keyId: string };

/** What a route needs: nothing (health), a scope in a tenant's session, or the admin token. */
export type RouteAccess = 'public' | Scope | 'admin';

export interface AuthenticatorOptions {
  readonly store: Store;
  /** undefined: open mode. */
  readonly adminToken: string | undefined;
  readonly defaultTenant: string;
  readonly failuresPerMinute: number;
}

/** What a request presents to be authenticated. */
export interface AuthRequest {
  readonly authorization: string | undefined;
  readonly xTenant: string | undefined;
  readonly address: string;
  readonly access: RouteAccess;
}

/** A tenant key to look up in the store: authenticateNow's answer when it cannot finish alone. */
export interface KeyLookup {
  readonly lookup: 'key';
  readonly token: string;
}

export function isKeyLookup(a: Principal | KeyLookup | undefined): a is KeyLookup {
  return a !== undefined && 'lookup' in a;
}

const WINDOW_MS = 60_000;

export class Authenticator {
  private readonly store: Store;
  private readonly adminTokenHash: string | undefined;
  private readonly defaultTenant: string;
  private readonly failuresPerMinute: number;
  /** Failed authentications per client address in the current minute. */
  private failures = new Map<string, number>();
  private windowStart = Date.now();

  constructor(opts: AuthenticatorOptions) {
    this.store = opts.store;
    this.adminTokenHash = opts.adminToken === undefined ? undefined : hashKey(opts.adminToken);
    this.defaultTenant = opts.defaultTenant;
    this.failuresPerMinute = opts.failuresPerMinute;
  }

  get open(): boolean {
    return this.adminTokenHash === undefined;
  }

  /**
   * The principal a request acts as, checked against what the route needs. Throws Unauthorized
   * (no or an unknown credential), Forbidden (a key without the scope, a key on an admin route,
   * the admin token on a tenant route without X-Tenant) or TooManyRequests (too many failures
   * from this address).
   */
  async authenticate(req: AuthRequest): Promise<Principal | undefined> {
    const now = this.authenticateNow(req);
    return isKeyLookup(now) ? this.authenticateKey(req, now.token) : now;
  }

  /**
   * What authenticate answers, without a promise when no store read is needed (open mode, the
   * admin token): the one hot route should not pay for one per request. A tenant key's token
   * comes back as a KeyLookup for authenticate's second half.
   */
  authenticateNow(req: AuthRequest): Principal | undefined | KeyLookup {
    if (req.access === 'public') return undefined;
    if (this.adminTokenHash === undefined) {
      if (req.access === 'admin' && req.xTenant === undefined) return { kind: 'admin', tenant: undefined };
      return { kind: 'open', tenant: this.defaultTenant };
    }
    this.checkFailures(req.address);
    const token = bearerToken(req.authorization);
    if (token === undefined) throw this.failed(req.address, new Unauthorized('This route needs an API key: Authorization: Bearer <key>.'));
    if (isAdminToken(token, this.adminTokenHash)) {
      if (req.access === 'admin') return { kind: 'admin', tenant: undefined };
      if (req.xTenant === undefined) {
        throw new Forbidden('The admin token acts in a tenant\'s session only with the header X-Tenant: <tenant>.');
      }
      return { kind: 'admin', tenant: req.xTenant };
    }
    return { lookup: 'key', token };
  }

  private async authenticateKey(req: AuthRequest, token: string): Promise<Principal> {
    const hash = hashKey(token);
    const key = await this.store.findKeyByHash(hash);
    if (!key || !sameDigest(key.hash, hash)) throw this.failed(req.address, new Unauthorized('The API key is not valid (unknown or revoked).'));
    if (req.access === 'admin') throw new Forbidden('This route needs the admin token; a tenant key cannot use it.');
    // authenticateNow answers public routes itself; a KeyLookup never comes from one.
    if (req.access === 'public') return { kind: 'key', tenant: key.tenant, scopes: key.scopes, keyId: key.id };
    if (!key.scopes.includes(req.access)) throw new Forbidden(`The API key lacks the "${req.access}" scope this route needs.`);
    // Buffered by the store: a use costs no write.
    this.store.touchKey(key.id, new Date().toISOString()).catch(() => {});
    return { kind: 'key', tenant: key.tenant, scopes: key.scopes, keyId: key.id };
  }

  private checkFailures(address: string): void {
    const now = Date.now();
    if (now - this.windowStart >= WINDOW_MS) {
      this.failures = new Map();
      this.windowStart = now;
    }
    if ((this.failures.get(address) ?? 0) >= this.failuresPerMinute) {
      throw new TooManyRequests('Too many failed authentications from this address.', Math.ceil((this.windowStart + WINDOW_MS - now) / 1000));
    }
  }

  private failed(address: string, err: Unauthorized): Unauthorized {
    this.failures.set(address, (this.failures.get(address) ?? 0) + 1);
    return err;
  }
}
