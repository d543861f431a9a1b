// Random requests to every route of API.md: mostly valid requests with one or two things
// wrong (a missing field, a wrong type, a huge number, an unknown dylib, a bad value
// encoding), some valid ones so the session changes under the fuzzer, and some garbage.
// Whatever is sent, the answer must never be a 5xx and every error must be in API.md's shape.

import type { Prng } from './prng.ts';

export interface FuzzRequest {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly url: string;
  readonly payload?: unknown;
  readonly headers?: Record<string, string>;
  /** Send the payload as it is rather than as JSON. */
  readonly raw?: boolean;
  /** Error codes beyond API.md's table that this request may legitimately get. */
  readonly allowed?: Readonly<Record<string, number>>;
  /** Whether a refusal of this request must leave the session's definitions as they were. */
  readonly atomic?: boolean;
}

/** Modules the fuzzer adds: ordinary ones, and ones that trap, spin or import. */
export const SEED_MODULES: readonly string[] = [
  `(module
    (memory (export "mem") 1 2)
    (table (export "tab") 2 funcref)
    (global (export "g") (mut i32) (i32.const 7))
    (global (export "gf") (mut f64) (f64.const 1.5))
    (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
    (func (export "div") (param i64 i64) (result i64) local.get 0 local.get 1 i64.div_s)
    (func (export "fl") (param f32 f64) (result f64) local.get 0 f64.promote_f32 local.get 1 f64.mul)
    (func (export "store") (param i32 i32) local.get 0 local.get 1 i32.store)
    (func (export "grow") (param i32) (result i32) local.get 0 memory.grow)
    (func (export "boom") unreachable)
    (func (export "v") (param v128) (result v128) local.get 0)
    (func (export "r") (param funcref externref) (result externref) local.get 1))`,
  '(module (func (export "spin") (loop br 0)))',
  '(module (func $s unreachable) (start $s))',
  '(module (import "env" "missing" (func $m (param i32) (result i32))) (func (export "callsMissing") (result i32) i32.const 1 call $m))',
  '(module (import "fz-a" "add" (func $add (param i32 i32) (result i32))) (func (export "add3") (param i32) (result i32) local.get 0 i32.const 3 call $add))',
  '(module (func $r (export "rec") (param i32) (result i32) local.get 0 i32.const 1 i32.add call $r))',
  '(module (func (export "add") (result i32) i32.const 0))',
  '(module (import "spectest" "print_i32" (func $p (param i32))) (func (export "hello") i32.const 42 call $p))',
];

/** Signatures of the functions SEED_MODULES export, so some invokes get well-typed arguments. */
const SIGNATURES: Readonly<Record<string, readonly string[]>> = {
  add: ['i32', 'i32'],
  div: ['i64', 'i64'],
  fl: ['f32', 'f64'],
  store: ['i32', 'i32'],
  grow: ['i32'],
  boom: [],
  v: ['v128'],
  r: ['funcref', 'externref'],
  spin: [],
  rec: ['i32'],
  add3: ['i32'],
  callsMissing: [],
  hello: [],
  print_i32: ['i32'],
};

const FIELD_NAMES = ['name', 'linkOrder', 'wat', 'wasm', 'lazy', 'optimize', 'from', 'symbols', 'args', 'symbol', 'timeoutMs', 'offset', 'base64', 'length', 'format'];

export class RequestFuzzer {
  readonly #rng: Prng;
  /** Dylib names the fuzzer uses; it creates and deletes them at random. */
  readonly dylibs = ['fz-a', 'fz-b', 'fz-c', 'spectest'];
  readonly symbols = ['add', 'div', 'fl', 'store', 'grow', 'boom', 'spin', 'mem', 'tab', 'g', 'gf', 'v', 'r', 'rec', 'add3', 'callsMissing', 'hello', 'print_i32', 'memory', 'global_i32', 'table'];
  readonly #wasmPool: readonly Uint8Array[];

  constructor(rng: Prng, wasmPool: readonly Uint8Array[]) {
    this.#rng = rng;
    this.#wasmPool = wasmPool;
  }

  // ---- random JSON ----

  number(): number {
    const r = this.#rng;
    return r.pick([0, -0, 1, -1, 7, 2 ** 31, 2 ** 32, -(2 ** 31) - 1, 2 ** 53, 2 ** 53 + 2, -(2 ** 63), 1e308, -1e308, 5e-324, 1.5, -2.5, 0.1, 1e21, r.u32(), -r.u32()]);
  }

  string(): string {
    const r = this.#rng;
    switch (r.below(8)) {
      case 0:
        return '';
      case 1:
        return r.pick(['NaN', '-NaN', 'Infinity', '-Infinity', '-0', '0x10', '1e3', '18446744073709551616', '-9223372036854775809', ' 1', '1.5', 'abc', '\u0000', 'a/b', '..', '.impl']);
      case 2:
        return r.pick(this.dylibs) + r.pick(['', '.impl', '-x', '/x', ' ']);
      case 3:
        return r.pick(this.symbols);
      case 4:
        return 'x'.repeat(r.pick([127, 128, 129, 300, 20_000]));
      case 5:
        return String.fromCodePoint(...Array.from({ length: r.between(1, 12) }, () => r.pick([0x41, 0x7a, 0x24, 0x2e, 0x2d, 0x20, 0x00, 0xe9, 0x4e2d, 0x1f600, 0xfffd])));
      case 6:
        return this.#rng.chance(0.5) ? '(module' : Buffer.from(this.#rng.bytes(this.#rng.between(0, 40))).toString('base64');
      default:
        return String(this.number());
    }
  }

  json(depth = 0): unknown {
    const r = this.#rng;
    switch (r.below(depth > 2 ? 4 : 7)) {
      case 0:
        return null;
      case 1:
        return r.chance(0.5);
      case 2:
        return this.number();
      case 3:
        return this.string();
      case 4:
        return Array.from({ length: r.below(5) }, () => this.json(depth + 1));
      case 5:
        return Object.fromEntries(Array.from({ length: r.below(4) }, () => [r.chance(0.7) ? r.pick(FIELD_NAMES) : this.string(), this.json(depth + 1)]));
      default:
        return this.value();
    }
  }

  /** An invoke argument: plain or typed, of some type, well or badly encoded. */
  value(): unknown {
    const r = this.#rng;
    const type = r.pick(['i32', 'i64', 'f32', 'f64', 'v128', 'funcref', 'externref', 'i8', '']);
    return r.pick<unknown>([
      this.number(),
      this.string(),
      { type, value: r.chance(0.5) ? String(r.u32()) : this.json(3) },
      { type },
      { value: '1' },
      '0123456789abcdef0123456789abcdef',
      null,
    ]);
  }

  // ---- names ----

  dylib(): string {
    const r = this.#rng;
    if (r.chance(0.9)) return r.pick(this.dylibs);
    return r.pick(['nope', 'fz-a.impl', '-bad', '.bad', 'x'.repeat(129), 'a b', 'ünï', '$ok', '_', 'fuzzing-support']);
  }

  symbol(): string {
    return this.#rng.chance(0.75) ? this.#rng.pick(this.symbols) : this.string();
  }

  /** A name as a path segment. */
  #segment(name: string): string {
    return encodeURIComponent(name);
  }

  // ---- bodies ----

  /** Applies 0 to 2 perturbations to a valid body: drop, retype or add a field, or replace it all. */
  perturb(body: Record<string, unknown>): unknown {
    const r = this.#rng;
    if (r.chance(0.6)) return body;
    if (r.chance(0.1)) return this.json();
    const out: Record<string, unknown> = { ...body };
    const n = r.between(1, 2);
    for (let i = 0; i < n; i++) {
      const keys = Object.keys(out);
      const choice = r.below(3);
      if (choice === 0 && keys.length > 0) delete out[r.pick(keys)];
      else if (choice === 1 && keys.length > 0) out[r.pick(keys)] = this.json(1);
      else out[r.pick(FIELD_NAMES)] = this.json(1);
    }
    return out;
  }

  #module(): Record<string, unknown> {
    const r = this.#rng;
    const options = { ...(r.chance(0.5) ? { lazy: r.chance(0.5) } : {}), ...(r.chance(0.3) ? { optimize: r.between(0, 4) } : {}) };
    if (r.chance(0.6)) return { wat: r.pick(SEED_MODULES), ...options };
    return { wasm: Buffer.from(r.pick(this.#wasmPool)).toString('base64'), ...options };
  }

  /** Arguments for `symbol`: mostly well-typed when its signature is known, else anything. */
  #args(symbol: string): unknown[] {
    const r = this.#rng;
    const params = SIGNATURES[symbol];
    if (!params || r.chance(0.3)) return Array.from({ length: r.below(4) }, () => this.value());
    return params.map((type) => (r.chance(0.8) ? this.#goodValue(type) : this.value()));
  }

  /** A correctly encoded value of `type`, in plain or typed form. */
  #goodValue(type: string): unknown {
    const r = this.#rng;
    switch (type) {
      case 'i32':
        return r.chance(0.5) ? r.pick([0, 1, -1, 2147483647, -2147483648, 65536]) : { type, value: String(r.u32()) };
      case 'i64':
        return r.pick<unknown>(['0', '-1', '9223372036854775807', '-9223372036854775808', 12, { type, value: '18446744073709551615' }]);
      case 'f32':
      case 'f64':
        return r.pick<unknown>([0, -1.5, 'NaN', '-0', 'Infinity', '-Infinity', 3.4e38, 1e-45, { type, value: String(r.u32()) }]);
      case 'v128':
        return r.pick<unknown>(['000102030405060708090a0b0c0d0e0f', { type, value: 'ffffffffffffffffffffffffffffffff' }]);
      default:
        return r.pick<unknown>([null, { type, value: null }]);
    }
  }

  #timeoutMs(): unknown {
    return this.#rng.pick<unknown>([undefined, 50, 1, 0, -5, 1.5, 1e12, '100', null]);
  }

  #symbolsField(): unknown {
    const r = this.#rng;
    const names = Array.from({ length: r.below(4) }, () => this.symbol());
    return r.chance(0.7) ? names : Object.fromEntries(names.map((n) => [this.symbol(), n]));
  }

  // ---- requests ----

  next(): FuzzRequest {
    const dylib = this.dylib();
    const symbol = this.symbol();
    const req = this.#request(dylib, symbol);
    // "." and ".." are dot segments to URL parsing, which removes them: such a path names
    // another route or none (the body forms take these names).
    const dots = [dylib, symbol].some((n) => n === '.' || n === '..');
    return dots ? { ...req, allowed: { ...req.allowed, NotFound: 404 } } : req;
  }

  #request(dylib: string, symbol: string): FuzzRequest {
    const r = this.#rng;
    const d = this.#segment(dylib);
    const s = this.#segment(symbol);
    switch (r.below(17)) {
      case 0:
        return { method: 'POST', url: '/dylibs', payload: this.perturb({ name: this.dylib(), ...(r.chance(0.5) ? { linkOrder: [this.dylib(), this.dylib()] } : {}) }), atomic: true };
      case 1:
        return { method: 'GET', url: r.pick(['/dylibs', '/health', '/dump', '/dump?format=json', `/dump?format=${encodeURIComponent(this.string())}`, '/metrics']) };
      case 2:
        return { method: 'GET', url: `/dylibs/${d}` };
      case 3:
        return { method: 'PUT', url: `/dylibs/${d}/link-order`, payload: this.perturb({ linkOrder: Array.from({ length: r.below(4) }, () => this.dylib()) }), atomic: true };
      case 4:
        // Rarer than the rest: a deleted dylib takes its symbols with it.
        return r.chance(0.5) ? { method: 'DELETE', url: `/dylibs/${d}`, atomic: true } : { method: 'GET', url: `/dylibs/${d}` };
      case 5:
      case 6:
        return { method: 'POST', url: `/dylibs/${d}/modules`, payload: this.perturb(this.#module()), atomic: true };
      case 7:
        return this.#rawModule(d);
      case 8:
        return { method: 'POST', url: `/dylibs/${d}/reexports`, payload: this.perturb({ from: this.dylib(), symbols: this.#symbolsField(), ...(r.chance(0.5) ? { lazy: r.chance(0.5) } : {}) }), atomic: true };
      case 9:
        return { method: 'GET', url: `/dylibs/${d}/symbols/${s}` };
      case 10:
        return { method: 'POST', url: `/dylibs/${d}/lookup`, payload: this.perturb({ symbols: Array.from({ length: r.below(4) }, () => this.symbol()) }) };
      case 11:
      case 12:
        return { method: 'POST', url: `/dylibs/${d}/symbols/${this.#segment(symbol)}/invoke`, payload: this.perturb({ args: this.#args(symbol), timeoutMs: this.#timeoutMs() }) };
      case 13:
        return { method: 'POST', url: `/dylibs/${d}/invoke`, payload: this.perturb({ symbol, args: this.#args(symbol), timeoutMs: this.#timeoutMs() }) };
      case 14:
        return r.chance(0.5)
          ? { method: 'GET', url: `/dylibs/${d}/memories/${s}${this.#query({ offset: this.#queryNumber(), length: this.#queryNumber() })}` }
          : { method: 'GET', url: `/dylibs/${d}/memories${this.#query({ symbol: this.symbol(), offset: this.#queryNumber(), length: this.#queryNumber() })}` };
      case 15: {
        const body = { offset: r.chance(0.5) ? r.below(70_000) : this.number(), base64: r.chance(0.7) ? Buffer.from(r.bytes(r.below(64))).toString('base64') : this.string() };
        return r.chance(0.5)
          ? { method: 'PUT', url: `/dylibs/${d}/memories/${s}`, payload: this.perturb(body) }
          : { method: 'PUT', url: `/dylibs/${d}/memories`, payload: this.perturb({ symbol: this.symbol(), ...body }) };
      }
      default:
        return this.#oddRequest(d);
    }
  }

  #queryNumber(): string | undefined {
    return this.#rng.pick([undefined, '0', '16', '65536', '65535', '1e3', '-1', '', '999999999999999', '99999999999999999999', 'abc']);
  }

  #query(params: Record<string, string | undefined>): string {
    const parts = Object.entries(params).filter(([, v]) => v !== undefined && this.#rng.chance(0.7));
    return parts.length === 0 ? '' : `?${parts.map(([k, v]) => `${k}=${encodeURIComponent(v as string)}`).join('&')}`;
  }

  /** A module as a raw body (application/wasm or text/plain), options in the query string. */
  #rawModule(d: string): FuzzRequest {
    const r = this.#rng;
    const query = this.#query({ lazy: r.pick(['true', 'false', '1', 'no', 'maybe', '']), optimize: r.pick(['0', '4', '5', '-1', 'x']), name: this.string() });
    if (r.chance(0.5)) {
      const bytes = r.chance(0.7) ? r.pick(this.#wasmPool) : r.bytes(r.below(100));
      return { method: 'POST', url: `/dylibs/${d}/modules${query}`, payload: Buffer.from(bytes), headers: { 'content-type': 'application/wasm' }, atomic: true };
    }
    return { method: 'POST', url: `/dylibs/${d}/modules${query}`, payload: r.chance(0.7) ? r.pick(SEED_MODULES) : this.string(), headers: { 'content-type': 'text/plain' }, atomic: true };
  }

  /** Malformed JSON, wrong content types, empty path segments, bodies over the limit. */
  #oddRequest(d: string): FuzzRequest {
    const r = this.#rng;
    switch (r.below(5)) {
      case 0:
        return { method: 'POST', url: `/dylibs/${d}/invoke`, payload: r.pick(['{', '{"symbol": "add", "args": [1, 2]', 'null', '[]', '"x"', '{"args": [1e999999]}', '']), headers: { 'content-type': 'application/json' } };
      case 1: {
        // Not a content type these routes parse, or none at all: API.md's routes take JSON, and
        // the server answers anything else with a 415 UnsupportedMediaType of its own design.
        const type = r.pick(['application/x-www-form-urlencoded', 'image/png', 'text/html', '']);
        return { method: 'POST', url: r.pick(['/dylibs', `/dylibs/${d}/lookup`, `/dylibs/${d}/modules`]), payload: 'name=x', headers: type ? { 'content-type': type } : {}, raw: true, allowed: { UnsupportedMediaType: 415 } };
      }
      case 2:
        // An empty path segment matches no route of API.md; bad percent-encoding no URL at all.
        return {
          method: r.pick(['GET', 'POST'] as const),
          url: r.pick(['/dylibs//symbols/add', `/dylibs/${d}/symbols/`, `/dylibs/${d}/symbols//invoke`, '/dylibs//invoke', `/dylibs/${d}/symbols/%ZZ`, '/dylibs/%E0%A4%A/invoke']),
          payload: r.chance(0.5) ? { args: [] } : undefined,
          allowed: { NotFound: 404 },
        };
      case 3:
        // Over the body limit the test's server is built with (1 MiB).
        return { method: 'POST', url: `/dylibs/${d}/modules`, payload: { wat: 'x'.repeat(1024 * 1024 + 10) } };
      default:
        return { method: 'POST', url: `/dylibs/${d}/lookup`, payload: { symbols: Array.from({ length: r.between(100, 2000) }, () => this.symbol()) } };
    }
  }
}
