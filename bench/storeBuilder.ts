// Builds a large store directly through the Store interface (what the service writes when
// clients make the same definitions, without an HTTP round trip and a JIT add per definition):
// `dylibs` dylibs `d<i>`, each holding one lazy module of `functions` functions (chainModule, a
// nonce per module so every module's bytes differ, as real ones would), plus optionally a dylib
// `big` with one module of `bigFunctions` functions. Module ids are m1, m2, ... as the JIT gives
// them. For the recovery benchmark and the recovery-progress test.

import { openStore } from '../src/store/Store.ts';
import { chainModule, chainResult } from './wasmgen.ts';

export interface BigStoreShape {
  readonly dylibs: number;
  readonly functions: number;
  /** 0: no big module. */
  readonly bigFunctions: number;
  readonly tenant?: string;
}

/** What calling `main` gives in each dylib, to check a recovered store. */
export interface BigStoreExpectations {
  /** `main` of dylib d<i> returns mainResult(i). */
  mainResult(i: number): number;
  readonly bigResult: number;
  /** Dylibs, modules and reexports recovery defines. */
  readonly definitions: { dylibs: number; modules: number; reexports: number };
}

const CHAIN = 5;
const BIG_CHAIN = 101;
const BIG_NONCE = 7;

export async function buildBigStore(url: string, shape: BigStoreShape): Promise<BigStoreExpectations> {
  const tenant = shape.tenant ?? 'default';
  const store = await openStore(url, { codeCacheBytes: 1 << 20 });
  try {
    if (!(await store.getTenant(tenant))) await store.createTenant({ name: tenant, limits: {}, createdAt: new Date().toISOString() });
    let id = 1;
    for (let i = 0; i < shape.dylibs; i++) {
      const name = `d${i}`;
      await store.createDylib(tenant, name, [name]);
      await store.addModule(tenant, { id: `m${id++}`, dylib: name, lazy: true, optimize: 2, bytes: chainModule(shape.functions, CHAIN, i, true), bindings: [] });
    }
    if (shape.bigFunctions > 0) {
      await store.createDylib(tenant, 'big', ['big']);
      await store.addModule(tenant, { id: `m${id++}`, dylib: 'big', lazy: true, optimize: 2, bytes: chainModule(shape.bigFunctions, BIG_CHAIN, BIG_NONCE), bindings: [] });
    }
  } finally {
    await store.close();
  }
  const n = shape.dylibs + (shape.bigFunctions > 0 ? 1 : 0);
  return {
    mainResult: (i) => chainResult(CHAIN, i),
    bigResult: chainResult(BIG_CHAIN, BIG_NONCE),
    definitions: { dylibs: n, modules: n, reexports: 0 },
  };
}
