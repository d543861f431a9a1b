// Messages between the main thread's WriterClient and the SQLite writer thread.

import type { SerializedError } from '../errors.ts';
import type { StoreWrites } from '../sql/StoreCore.ts';

export type WriteMethod = keyof StoreWrites;

export interface WriterInit {
  readonly path: string;
  readonly busyTimeoutMs: number;
}

export type WriterRequest =
  | { readonly type: 'call'; readonly id: number; readonly method: WriteMethod; readonly args: readonly unknown[] }
  | { readonly type: 'close' };

export type WriterReply =
  | { readonly type: 'ready' }
  | { readonly type: 'failed'; readonly error: SerializedError }
  | { readonly type: 'result'; readonly id: number; readonly value: unknown }
  | { readonly type: 'error'; readonly id: number; readonly error: SerializedError }
  | { readonly type: 'closed' };
