// The code cache the CompileLayer consults before running binaryen: the bytes the optimizing
// compiler produced, keyed by content, so the same work is never done twice, whichever tenant
// added the module and whether or not the server restarted in between (wasmtime keys its cache
// the same way). The key covers everything the bytes depend on: the compiler's version, the
// module's bytes (a hash), what the piece holds and the optimize level. Node 24 cannot keep V8's
// machine code (V8 dropped WebAssembly.Module serialization), so what is cached is wasm: it
// saves binaryen's time, and V8 compiles the cached wasm lazily as it does any piece. Baseline
// pieces are not cached: cutting one costs less than reading it back.

import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';

/** Where cached pieces live (the durable store, or nothing). */
export interface CodeCacheBackend {
  getCode(key: string): Promise<Uint8Array | undefined>;
  putCode(key: string, bytes: Uint8Array): Promise<void>;
}

/** Bump when the cutter's or the optimizer's output changes for the same input. */
const JIT_CODE_VERSION = 1;
const binaryenVersion = (createRequire(import.meta.url)('binaryen/package.json') as { version: string }).version;
export const COMPILER_VERSION = `binaryen-${binaryenVersion}+jit-${JIT_CODE_VERSION}`;

export class CodeCache {
  private readonly backend: CodeCacheBackend | undefined;
  private readonly reportError: (err: unknown) => void;
  hits = 0;
  misses = 0;

  constructor(backend: CodeCacheBackend | undefined, reportError: (err: unknown) => void) {
    this.backend = backend;
    this.reportError = reportError;
  }

  /** The key of one compile: every part its output depends on, hashed. */
  static key(parts: readonly (string | number)[]): string {
    return createHash('sha256').update([COMPILER_VERSION, ...parts].join('\0')).digest('hex');
  }

  /**
   * The cached bytes for `key`, or `compile()`'s, which are then cached. A cache that cannot be
   * read or written is reported and bypassed: it never fails a compile.
   */
  async through(key: string, compile: () => Promise<Uint8Array>): Promise<Uint8Array> {
    if (this.backend === undefined) return compile();
    let cached: Uint8Array | undefined;
    try {
      cached = await this.backend.getCode(key);
    } catch (err) {
      this.reportError(err);
    }
    if (cached !== undefined) {
      this.hits++;
      return cached;
    }
    this.misses++;
    const bytes = await compile();
    this.backend.putCode(key, bytes).catch((err: unknown) => this.reportError(err));
    return bytes;
  }
}
