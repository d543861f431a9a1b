// The durability workload: several clients, each issuing one request at a time in a namespace
// of dylibs of its own (`c<client>-d<n>`, never reused), that create dylibs (some with a link
// order), add modules (lazy and eager, WAT and binary, in every body form), reexport functions
// from one of their dylibs into another (plain and lazy), change link orders, and remove modules
// and dylibs. Each client keeps a model of what the server acknowledged (only requests answered
// with a 2xx, applied as the response describes them) and remembers the request it sent last
// that was never answered: the process may have been stopped with it in flight.
//
// verifyWorkload then checks a server (after a restart) against the models: every client's
// namespace must be exactly what its acknowledged requests made, or that plus its unanswered
// request taken whole (never part of it: a module with some of its symbols, a reexport of some
// names); every acknowledged module's function returns its constant and its global holds its
// value; every reexport whose target lives leads to it; every link order finds what it names.

import type { ServerProcess } from '../support/serverProcess.ts';
import { type ModuleSpec, exportsOf, moduleBinary, moduleWat } from './modules.ts';
import { type DylibShape, type SymbolShape, outcome, seg, shapeOf } from './support.ts';

/** A deterministic generator (mulberry32), so a failing run can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

type Form = 'wat-json' | 'wat-text' | 'wasm-json' | 'wasm-raw';

interface AddedModule {
  readonly id: string;
  readonly spec: ModuleSpec;
  readonly lazy: boolean;
  readonly symbols: readonly SymbolShape[];
}

interface Reexport {
  readonly from: string;
  /** alias -> the tag of the module whose function it names */
  readonly targets: ReadonlyMap<string, string>;
  readonly symbols: readonly SymbolShape[];
}

interface DylibModel {
  linkOrder: string[];
  readonly modules: AddedModule[];
  readonly reexports: Reexport[];
}

type Op =
  | { readonly kind: 'createDylib'; readonly name: string; readonly linkOrder?: readonly string[] }
  | { readonly kind: 'addModule'; readonly dylib: string; readonly spec: ModuleSpec; readonly lazy: boolean; readonly optimize: number; readonly form: Form }
  | { readonly kind: 'reexport'; readonly dylib: string; readonly from: string; readonly aliases: Readonly<Record<string, string>>; readonly tags: ReadonlyMap<string, string>; readonly lazy: boolean }
  | { readonly kind: 'setLinkOrder'; readonly dylib: string; readonly linkOrder: readonly string[] }
  | { readonly kind: 'removeModule'; readonly dylib: string; readonly id: string }
  | { readonly kind: 'removeDylib'; readonly dylib: string };

/** One client's view of what the server acknowledged. */
class ClientModel {
  readonly dylibs = new Map<string, DylibModel>();
  /** Every dylib name the client ever asked for, so the verifier looks at all of them. */
  readonly named = new Set<string>();
  acknowledged = 0;
  readonly counts: Record<Op['kind'], number> = { createDylib: 0, addModule: 0, reexport: 0, setLinkOrder: 0, removeModule: 0, removeDylib: 0 };

  clone(): ClientModel {
    const c = new ClientModel();
    for (const [n, d] of this.dylibs) c.dylibs.set(n, { linkOrder: [...d.linkOrder], modules: [...d.modules], reexports: [...d.reexports] });
    for (const n of this.named) c.named.add(n);
    return c;
  }

  removeDylib(name: string): void {
    this.dylibs.delete(name);
    // The server drops a removed dylib from every link order that named it.
    for (const d of this.dylibs.values()) d.linkOrder = d.linkOrder.filter((n) => n !== name);
  }
}

/** What the workload did, for the verifier and the test's report. */
export interface WorkloadResult {
  readonly clients: readonly ClientRecord[];
  /** Answers that were not 2xx (none expected), as "<status> <body>". */
  readonly refusals: readonly string[];
}

export interface ClientRecord {
  readonly index: number;
  readonly model: ClientModel;
  /** The last request sent and never answered (the process stopped with it in flight). */
  readonly pending: Op | undefined;
}

interface SymbolJson extends SymbolShape {
  target?: { dylib: string; name: string; compiled?: boolean };
}

/** A symbol of a response, reduced as GET /dylibs/:name is for comparison. */
function symbolShape(s: SymbolJson): SymbolShape {
  const [reduced] = shapeOf({ name: '', linkOrder: [], modules: [], symbols: [s] }).symbols;
  return reduced as SymbolShape;
}

class Client {
  readonly index: number;
  readonly model = new ClientModel();
  pending: Op | undefined;
  private readonly server: ServerProcess;
  private readonly random: () => number;
  private readonly refusals: string[];
  private nextDylib = 0;
  private nextModule = 0;
  private nextAlias = 0;

  constructor(server: ServerProcess, index: number, seed: number, refusals: string[]) {
    this.server = server;
    this.index = index;
    this.random = prng(seed * 31 + index);
    this.refusals = refusals;
  }

  private pick<T>(xs: readonly T[]): T | undefined {
    return xs.length === 0 ? undefined : xs[Math.floor(this.random() * xs.length)];
  }

  /** Runs until `stop()` says so or the server stops answering. */
  async run(stop: () => boolean): Promise<void> {
    while (!stop()) {
      const op = this.nextOp();
      this.pending = op;
      let res;
      try {
        res = await this.send(op);
      } catch {
        // No answer: the server is gone. The op stays pending; this client is done.
        return;
      }
      this.pending = undefined;
      if (res.status < 200 || res.status >= 300) {
        this.refusals.push(`client ${this.index} ${op.kind}: ${res.status} ${res.text.slice(0, 300)}`);
        continue;
      }
      apply(this.model, op, res.json);
      this.model.acknowledged++;
      this.model.counts[op.kind]++;
    }
  }

  private nextOp(): Op {
    const m = this.model;
    const live = [...m.dylibs.keys()];
    const withModules = live.filter((n) => (m.dylibs.get(n)?.modules.length ?? 0) > 0);
    const r = this.random();
    if (live.length < 2 || (r < 0.1 && live.length < 6)) {
      const name = `c${this.index}-d${this.nextDylib++}`;
      m.named.add(name);
      const other = this.random() < 0.4 ? this.pick(live) : undefined;
      return { kind: 'createDylib', name, ...(other === undefined ? {} : { linkOrder: [name, other] }) };
    }
    if (r < 0.5) {
      const n = this.nextModule++;
      const spec: ModuleSpec = { tag: `c${this.index}m${n}`, k: this.index * 100_000 + n * 10 + 3, memory: this.random() < 0.3, table: this.random() < 0.2 };
      const forms: Form[] = ['wat-json', 'wat-text', 'wasm-json', 'wasm-raw'];
      return {
        kind: 'addModule',
        dylib: this.pick(live) as string,
        spec,
        lazy: this.random() < 0.6,
        optimize: Math.floor(this.random() * 3),
        form: forms[n % forms.length] as Form,
      };
    }
    if (r < 0.65 && withModules.length > 0) {
      const from = this.pick(withModules) as string;
      const into = this.pick(live.filter((n) => n !== from));
      const mod = this.pick(m.dylibs.get(from)?.modules ?? []);
      if (into !== undefined && mod !== undefined) {
        const alias = `r_c${this.index}x${this.nextAlias++}`;
        return { kind: 'reexport', dylib: into, from, aliases: { [alias]: `f_${mod.spec.tag}` }, tags: new Map([[alias, mod.spec.tag]]), lazy: this.random() < 0.5 };
      }
    }
    if (r < 0.77) {
      const d = this.pick(live) as string;
      const others = live.filter((n) => n !== d && this.random() < 0.5);
      return { kind: 'setLinkOrder', dylib: d, linkOrder: [d, ...others] };
    }
    if (r < 0.94 && withModules.length > 0) {
      const d = this.pick(withModules) as string;
      const mod = this.pick(m.dylibs.get(d)?.modules ?? []) as AddedModule;
      return { kind: 'removeModule', dylib: d, id: mod.id };
    }
    if (r >= 0.94) return { kind: 'removeDylib', dylib: this.pick(live) as string };
    const d = this.pick(live) as string;
    return { kind: 'setLinkOrder', dylib: d, linkOrder: [d, ...live.filter((n) => n !== d).slice(0, 1)] };
  }

  private send(op: Op) {
    const s = this.server;
    switch (op.kind) {
      case 'createDylib':
        return s.post('/dylibs', { name: op.name, ...(op.linkOrder ? { linkOrder: op.linkOrder } : {}) });
      case 'addModule': {
        const path = `/dylibs/${seg(op.dylib)}/modules`;
        const opts = { lazy: op.lazy, optimize: op.optimize, name: op.spec.tag };
        const query = `?lazy=${op.lazy}&optimize=${op.optimize}&name=${seg(op.spec.tag)}`;
        switch (op.form) {
          case 'wat-json':
            return s.post(path, { wat: moduleWat(op.spec), ...opts });
          case 'wat-text':
            return s.request('POST', `${path}${query}`, { text: moduleWat(op.spec) });
          case 'wasm-json':
            return s.post(path, { wasm: Buffer.from(moduleBinary(op.spec)).toString('base64'), ...opts });
          case 'wasm-raw':
            return s.request('POST', `${path}${query}`, { wasm: moduleBinary(op.spec) });
        }
        break;
      }
      case 'reexport':
        return s.post(`/dylibs/${seg(op.dylib)}/reexports`, { from: op.from, symbols: op.aliases, lazy: op.lazy });
      case 'setLinkOrder':
        return s.request('PUT', `/dylibs/${seg(op.dylib)}/link-order`, { json: { linkOrder: op.linkOrder } });
      case 'removeModule':
        return s.request('DELETE', `/dylibs/${seg(op.dylib)}/modules/${seg(op.id)}`);
      case 'removeDylib':
        return s.request('DELETE', `/dylibs/${seg(op.dylib)}`);
    }
    throw new Error('unreachable');
  }
}

/** Applies an op to a model as the server's response describes it (or, with no response, as predicted). */
function apply(m: ClientModel, op: Op, body: unknown): void {
  switch (op.kind) {
    case 'createDylib': {
      const view = body as { linkOrder?: string[] } | undefined;
      m.named.add(op.name);
      m.dylibs.set(op.name, { linkOrder: view?.linkOrder ?? [...(op.linkOrder ?? [op.name])], modules: [], reexports: [] });
      return;
    }
    case 'addModule': {
      const d = m.dylibs.get(op.dylib);
      if (!d) throw new Error(`the model has no dylib ${op.dylib}`);
      const added = body as { module: { id: string }; symbols: SymbolJson[] } | undefined;
      d.modules.push({
        id: added?.module.id ?? '?',
        spec: op.spec,
        lazy: op.lazy,
        symbols: added ? added.symbols.map(symbolShape) : exportsOf(op.spec).map((e) => ({ name: e.name, dylib: op.dylib, kind: e.kind, flags: [] })),
      });
      return;
    }
    case 'reexport': {
      const d = m.dylibs.get(op.dylib);
      if (!d) throw new Error(`the model has no dylib ${op.dylib}`);
      const made = body as { symbols: SymbolJson[] } | undefined;
      d.reexports.push({
        from: op.from,
        targets: op.tags,
        symbols: made ? made.symbols.map(symbolShape) : Object.keys(op.aliases).map((name) => ({ name, dylib: op.dylib, kind: 'function', flags: [] })),
      });
      return;
    }
    case 'setLinkOrder': {
      const d = m.dylibs.get(op.dylib);
      if (!d) throw new Error(`the model has no dylib ${op.dylib}`);
      d.linkOrder = (body as { linkOrder?: string[] } | undefined)?.linkOrder ?? [...op.linkOrder];
      return;
    }
    case 'removeModule': {
      const d = m.dylibs.get(op.dylib);
      if (!d) throw new Error(`the model has no dylib ${op.dylib}`);
      const i = d.modules.findIndex((x) => x.id === op.id);
      if (i >= 0) d.modules.splice(i, 1);
      return;
    }
    case 'removeDylib':
      m.removeDylib(op.dylib);
      return;
  }
}

/**
 * Runs `clients` clients against the server for `durationMs`, then calls `interrupt` (which
 * stops the server, e.g. SIGKILL) while they are still sending, and waits until every client
 * has noticed. Returns what was acknowledged and what was in flight.
 */
export async function runWorkload(
  server: ServerProcess,
  opts: { clients: number; durationMs: number; seed: number; interrupt: () => Promise<void> },
): Promise<WorkloadResult> {
  const refusals: string[] = [];
  const clients = Array.from({ length: opts.clients }, (_, i) => new Client(server, i, opts.seed, refusals));
  const runs = clients.map((c) => c.run(() => false));
  await new Promise((r) => setTimeout(r, opts.durationMs));
  await opts.interrupt();
  await Promise.all(runs);
  return { clients: clients.map((c) => ({ index: c.index, model: c.model, pending: c.pending })), refusals };
}

/** What a client's namespace should look like: dylib name -> its shape, or undefined for no dylib. */
function expectedNamespace(m: ClientModel): Map<string, DylibShape | undefined> {
  const out = new Map<string, DylibShape | undefined>();
  for (const name of m.named) {
    const d = m.dylibs.get(name);
    if (!d) {
      out.set(name, undefined);
      continue;
    }
    const symbols = [...d.modules.flatMap((x) => x.symbols), ...d.reexports.flatMap((x) => x.symbols)];
    out.set(name, {
      name,
      linkOrder: d.linkOrder,
      modules: d.modules.map((x) => ({ id: x.id, name: x.spec.tag, lazy: x.lazy })),
      symbols: [...symbols].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    });
  }
  return out;
}

/**
 * Whether `actual` matches `expected`, where a module id "?" and a symbol with no flags (what the
 * unanswered request would have made, not known in detail) match on what is known.
 */
function matches(expected: DylibShape | undefined, actual: DylibShape | undefined): boolean {
  if (expected === undefined || actual === undefined) return expected === actual;
  if (JSON.stringify(expected.linkOrder) !== JSON.stringify(actual.linkOrder)) return false;
  if (expected.modules.length !== actual.modules.length) return false;
  for (const [i, e] of expected.modules.entries()) {
    const a = actual.modules[i];
    if (!a || (e.id !== '?' && e.id !== a.id) || e.name !== a.name || e.lazy !== a.lazy) return false;
  }
  if (expected.symbols.length !== actual.symbols.length) return false;
  for (const [i, e] of expected.symbols.entries()) {
    const a = actual.symbols[i];
    if (!a || a.name !== e.name || a.kind !== e.kind || a.dylib !== e.dylib) return false;
    if (e.flags.length > 0 && JSON.stringify(e) !== JSON.stringify(a)) return false;
  }
  return true;
}

/** What differs between an expected and an actual dylib, briefly. */
function difference(expected: DylibShape | undefined, actual: DylibShape | undefined): string {
  if (expected === undefined) return 'exists, but was never made or was removed';
  if (actual === undefined) return 'is missing';
  const out: string[] = [];
  if (JSON.stringify(expected.linkOrder) !== JSON.stringify(actual.linkOrder)) {
    out.push(`link order ${JSON.stringify(actual.linkOrder)}, expected ${JSON.stringify(expected.linkOrder)}`);
  }
  const ids = (d: DylibShape) => d.modules.map((m) => `${m.id}(${m.name ?? ''},${m.lazy ? 'lazy' : 'eager'})`);
  if (JSON.stringify(ids(expected)) !== JSON.stringify(ids(actual))) out.push(`modules ${ids(actual).join(' ')}, expected ${ids(expected).join(' ')}`);
  const byName = (d: DylibShape) => new Map(d.symbols.map((x) => [x.name, JSON.stringify(x)]));
  const e = byName(expected);
  const a = byName(actual);
  const missing = [...e.keys()].filter((k) => !a.has(k));
  const extra = [...a.keys()].filter((k) => !e.has(k));
  const changed = [...e.keys()].filter((k) => a.has(k) && a.get(k) !== e.get(k));
  if (missing.length) out.push(`symbols missing: ${missing.join(', ')}`);
  if (extra.length) out.push(`symbols not expected: ${extra.join(', ')}`);
  for (const k of changed) out.push(`symbol ${a.get(k)}, expected ${e.get(k)}`);
  return out.join('; ');
}

export interface Verification {
  /** One line per mismatch; empty when the server holds what was acknowledged. */
  readonly problems: string[];
  /** Per client: whether its unanswered request took effect, was absent, or there was none. */
  readonly pendingOutcomes: string[];
  readonly calls: number;
}

/** Checks the server against the workload's models (see the header). */
export async function verifyWorkload(server: ServerProcess, result: WorkloadResult): Promise<Verification> {
  const problems: string[] = [];
  const pendingOutcomes: string[] = [];
  let calls = 0;

  // The shapes.
  const actualBy = new Map<string, DylibShape | undefined>();
  const listed = await server.get<{ dylibs: { name: string; implOf?: string; modules: { id: string }[]; symbols: SymbolJson[] }[] }>('/dylibs');
  if (listed.status !== 200) return { problems: [`GET /dylibs: ${listed.status} ${listed.text}`], pendingOutcomes, calls };
  for (const d of listed.json.dylibs) if (d.implOf === undefined) actualBy.set(d.name, shapeOf(d as Parameters<typeof shapeOf>[0]));
  const known = new Set(['spectest']);
  for (const c of result.clients) for (const n of c.model.named) known.add(n);
  for (const d of listed.json.dylibs) {
    if (d.implOf !== undefined) {
      if (!actualBy.has(d.implOf)) problems.push(`implementation dylib ${d.name} outlived ${d.implOf}`);
      continue;
    }
    if (!known.has(d.name)) problems.push(`dylib ${d.name} exists but no client made it`);
  }

  for (const c of result.clients) {
    const acked = expectedNamespace(c.model);
    let applied: Map<string, DylibShape | undefined> | undefined;
    if (c.pending) {
      const alt = c.model.clone();
      if (c.pending.kind === 'createDylib') alt.named.add(c.pending.name);
      try {
        apply(alt, c.pending, undefined);
        applied = expectedNamespace(alt);
      } catch {
        applied = undefined;
      }
      if (c.pending.kind === 'createDylib') acked.set(c.pending.name, undefined);
    }
    const names = new Set([...acked.keys(), ...(applied?.keys() ?? [])]);
    const actual = new Map([...names].map((n) => [n, actualBy.get(n)]));
    const fits = (exp: Map<string, DylibShape | undefined>) => [...names].every((n) => matches(exp.get(n), actual.get(n)));
    const whole = fits(acked);
    const withPending = applied !== undefined && fits(applied);
    if (c.pending) pendingOutcomes.push(`client ${c.index}: ${c.pending.kind} in flight, ${whole ? 'not taken' : withPending ? 'taken whole' : 'neither'}`);
    else pendingOutcomes.push(`client ${c.index}: nothing in flight`);
    if (!whole && !withPending) {
      for (const n of names) {
        if (matches(acked.get(n), actual.get(n)) || (applied && matches(applied.get(n), actual.get(n)))) continue;
        problems.push(`client ${c.index}, dylib ${n}: ${difference(acked.get(n), actual.get(n))}${c.pending ? ` (${c.pending.kind} was in flight)` : ''}`);
      }
    }
  }

  // The code: every acknowledged module, reexport and link order leads where it should.
  const invoke = async (dylib: string, symbol: string, want: number, what: string) => {
    calls++;
    const res = await server.post<{ results?: { value: unknown }[] }>(`/dylibs/${seg(dylib)}/invoke`, { symbol, args: [] });
    const got = res.status === 200 ? res.json.results?.[0]?.value : outcome(res);
    if (got !== want) problems.push(`${what}: ${dylib} ${symbol}() gave ${JSON.stringify(got)} (${res.text.slice(0, 200)}), expected ${want}`);
  };
  for (const c of result.clients) {
    const pendingDylib = c.pending && 'dylib' in c.pending ? c.pending.dylib : undefined;
    const liveTags = new Map<string, { dylib: string; spec: ModuleSpec }>();
    for (const [name, d] of c.model.dylibs) for (const mod of d.modules) liveTags.set(mod.spec.tag, { dylib: name, spec: mod.spec });
    for (const [name, d] of c.model.dylibs) {
      // What the request in flight may have removed is not called.
      if (name === pendingDylib && (c.pending?.kind === 'removeDylib' || c.pending?.kind === 'removeModule')) continue;
      for (const mod of d.modules) {
        await invoke(name, `f_${mod.spec.tag}`, mod.spec.k, `module ${mod.id} (${mod.spec.tag})`);
        calls++;
        const g = await server.get<{ value?: { value: unknown } }>(`/dylibs/${seg(name)}/symbols/${seg(`g_${mod.spec.tag}`)}`);
        if (g.json?.value?.value !== mod.spec.k + 1) problems.push(`module ${mod.spec.tag}: global g_${mod.spec.tag} is ${g.text.slice(0, 200)}, expected ${mod.spec.k + 1}`);
      }
      for (const r of d.reexports) {
        for (const [alias, tag] of r.targets) {
          const target = liveTags.get(tag);
          if (!target || target.dylib !== r.from) continue;
          if (c.pending?.kind === 'removeModule' && target.dylib === c.pending.dylib) continue;
          if (c.pending?.kind === 'removeDylib' && target.dylib === c.pending.dylib) continue;
          await invoke(name, alias, target.spec.k, `reexport ${alias} of ${r.from}`);
        }
      }
      // The first other dylib of the link order with a module: one of its functions through this dylib.
      const via = d.linkOrder.find((n) => n !== name && (c.model.dylibs.get(n)?.modules.length ?? 0) > 0);
      const mod = via === undefined ? undefined : c.model.dylibs.get(via)?.modules[0];
      if (via !== undefined && mod && c.pending?.kind !== 'setLinkOrder' && via !== pendingDylib) {
        await invoke(name, `f_${mod.spec.tag}`, mod.spec.k, `link order of ${name} (${d.linkOrder.join(', ')})`);
      }
    }
  }
  return { problems, pendingOutcomes, calls };
}

/** A line per client for the test's output: how many of each request were acknowledged. */
export function describeWorkload(result: WorkloadResult): string {
  return result.clients
    .map((c) => `client ${c.index}: ${c.model.acknowledged} acknowledged ${JSON.stringify(c.model.counts)}${c.pending ? `, ${c.pending.kind} in flight` : ''}`)
    .join('\n');
}
