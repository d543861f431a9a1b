// Worker side of reference values in WasmValue form. An externref crosses the wire as an opaque
// string; in the worker each distinct string stands for one JS object (interned, so passing "7"
// twice passes the same object, and getting it back yields "7"). A funcref result is named by
// its slot in the session table ("funcref:<slot>"), or by an interned id ("funcref:anon<n>")
// when it sits in no slot; both forms can be passed back in as arguments.
//
// Interning is weak: an entry lives as long as wasm (a global, a table) still holds the object,
// so a long session does not accumulate every string it was ever passed.

import type { RefCodec } from './rawValues.ts';
import type { SessionSpace } from './SessionSpace.ts';
import { ExecutorFailure } from './failures.ts';

/** A weakly held string <-> object interning table. */
class WeakInterner<T extends object> {
  private readonly byName = new Map<string, WeakRef<T>>();
  private readonly nameOf = new WeakMap<T, string>();
  private readonly cleanup = new FinalizationRegistry<string>((name) => {
    const ref = this.byName.get(name);
    if (ref !== undefined && ref.deref() === undefined) this.byName.delete(name);
  });

  get(name: string): T | undefined {
    return this.byName.get(name)?.deref();
  }

  name(value: T): string | undefined {
    return this.nameOf.get(value);
  }

  add(name: string, value: T): void {
    this.byName.set(name, new WeakRef(value));
    this.nameOf.set(value, name);
    this.cleanup.register(value, name);
  }
}

export class RefInterner implements RefCodec {
  private readonly space: SessionSpace;
  private readonly externs = new WeakInterner<object>();
  private readonly anonFuncs = new WeakInterner<object>();
  private nextAnon = 1;
  private nextForeignExtern = 1;

  constructor(space: SessionSpace) {
    this.space = space;
  }

  externToJs(bits: string): unknown {
    let obj = this.externs.get(bits);
    if (obj === undefined) {
      obj = Object.freeze({ externref: bits });
      this.externs.add(bits, obj);
    }
    return obj;
  }

  externFromJs(value: unknown): string {
    if (typeof value === 'object' || typeof value === 'function') {
      const known = this.externs.name(value as object);
      if (known !== undefined) return known;
      // Not one we handed out (e.g. a host object): give it a name so it can come back in.
      const name = `extern:${this.nextForeignExtern++}`;
      this.externs.add(name, value as object);
      return name;
    }
    // Primitives only reach wasm from JS we control, which passes none; name them by value.
    return `extern:${typeof value}:${String(value)}`;
  }

  funcToJs(bits: string): unknown {
    const slot = /^funcref:(\d+)$/.exec(bits);
    if (slot) {
      const fn = this.space.functionAt(Number(slot[1]));
      if (fn !== null) return fn;
    } else {
      const anon = this.anonFuncs.get(bits);
      if (anon !== undefined) return anon;
    }
    throw ExecutorFailure.typeMismatch(`${JSON.stringify(bits)} names no function`);
  }

  funcFromJs(value: unknown): string {
    const slot = this.space.slotOfFunction(value);
    if (slot !== undefined) return `funcref:${slot}`;
    const fn = value as object;
    let name = this.anonFuncs.name(fn);
    if (name === undefined) {
      name = `funcref:anon${this.nextAnon++}`;
      this.anonFuncs.add(name, fn);
    }
    return name;
  }
}
