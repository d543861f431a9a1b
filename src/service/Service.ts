// The service the HTTP layer runs on: the tenants' sessions, who a request acts as, tenants and
// keys for the admin routes, and the state /health reports. Built by createService.ts from the
// configuration; the routes see it through routes/deps.ts.

import type { ReplicaRouter } from '../replicas/ReplicaRouter.ts';
import type { Store } from '../store/Store.ts';
import type { Authenticator } from '../tenants/Authenticator.ts';
import type { Keys } from '../tenants/Keys.ts';
import type { AppMetrics } from '../metrics/AppMetrics.ts';
import type { RecoveryState, Sessions } from './Sessions.ts';

export type HealthState =
  | { readonly status: 'ok' }
  /** Starting: the store's definitions are being defined again (API.md: /health answers 503 until done). */
  | { readonly status: 'recovering'; readonly recovery: RecoveryState }
  /** The store cannot be reached, or recovery failed. */
  | { readonly status: 'unavailable'; readonly reason: string };

export interface Service {
  readonly sessions: Sessions;
  readonly auth: Authenticator;
  readonly keys: Keys;
  readonly store: Store;
  /** Set when this process is one of several replicas: where each tenant's requests are served. */
  readonly replicas?: ReplicaRouter | undefined;
  health(): Promise<HealthState>;
  /** The Prometheus metrics (read from the sessions at each scrape). */
  readonly metrics: AppMetrics;
  close(): Promise<void>;
}
