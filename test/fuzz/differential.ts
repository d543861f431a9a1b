// Differential testing of one module: the JIT (over HTTP, lazily and eagerly, each in a fresh
// dylib) against direct instantiation of the same bytes. Both sides make the same calls to the
// module's numeric exports, in export order with the same arguments, so state the calls leave
// behind (globals, memory) stays comparable too; and at the end the exported numeric globals
// and memories are compared.

import { createHash } from 'node:crypto';
import type { ModuleBinary } from '../../src/wasm/moduleBinary.ts';
import type { FuncType, ValType } from '../../src/wasm/types.ts';
import { type Api, contractViolation, errorOf, type Reply, shorten } from './api.ts';
import { type CallPlan, type DirectRun, type FinalState, type Outcome, runDirect } from './direct.ts';
import { decodeModuleBinary, FUZZING_SUPPORT, FUZZING_SUPPORT_WASM, type Provider, providersFor } from './imports.ts';
import { isNumType, type NumType, randomArg, sameValue } from './numbers.ts';
import { type Differences, differences, snapshot } from './session.ts';
import type { Prng } from './prng.ts';

export interface DifferentialOptions {
  /** Each invoke's time limit on the JIT side; a call running longer ends the comparison. */
  readonly invokeTimeoutMs: number;
  /** Add modes to compare with direct instantiation. */
  readonly modes: readonly ('lazy' | 'eager')[];
  /**
   * The add's binaryen optimization level. Only at 0 are trap kinds compared: binaryen's
   * optimizer treats all traps as equivalent and may turn, say, an out-of-bounds load it can
   * prove into `unreachable`, so optimized code still traps where the original does, but
   * possibly with another message.
   */
  readonly optimize: number;
}

export interface ModuleReport {
  /** Why the module was not compared at all (imports the harness cannot provide...). */
  readonly skipped?: string;
  /** Calls compared, counted once per mode. */
  compared: number;
  /** Modes whose calls stopped early at an ExecutionTimeout or stack overflow. */
  stoppedEarly: number;
  /** JIT outcomes of adds and calls, by kind (ok, trap, timeout...). */
  readonly outcomes: Record<string, number>;
  readonly mismatches: string[];
  /** Sightings of the documented exception (session.ts KNOWN), reported as comments. */
  readonly known: Differences['known'][number][];
}

interface JitRun {
  readonly mode: 'lazy' | 'eager';
  /** How the add ended: ok, or a trap in the start function (which defines nothing). */
  readonly add: Outcome;
  readonly calls: Outcome[];
  /** Set when every planned call ran (none stopped the run early). */
  final?: FinalState;
}

interface Plan {
  readonly calls: CallPlan[];
  readonly globals: { name: string; type: NumType }[];
  readonly memories: string[];
  readonly exportTypes: Map<string, FuncType>;
}

const numeric = (types: readonly ValType[]): types is NumType[] => types.every(isNumType);

/**
 * The calls to make: every export whose params and results are numbers, in export order, in
 * two rounds with fresh arguments. Lazily, the first round goes through the stubs and compiles
 * each body; the second runs the compiled code through the patched stubs.
 */
function planCalls(binary: ModuleBinary, rng: Prng): Plan {
  const plan: Plan = { calls: [], globals: [], memories: [], exportTypes: new Map() };
  const callable: Omit<CallPlan, 'args'>[] = [];
  for (const e of binary.exports) {
    if (e.kind === 'function') {
      const type = binary.types[binary.funcTypes[e.index]!]!;
      plan.exportTypes.set(e.name, type);
      const { params, results } = type;
      if (numeric(params) && numeric(results)) callable.push({ name: e.name, params, results });
    } else if (e.kind === 'global') {
      const type = binary.globals[e.index]!.type.type;
      if (isNumType(type)) plan.globals.push({ name: e.name, type });
    } else if (e.kind === 'memory') {
      plan.memories.push(e.name);
    }
  }
  for (let round = 0; round < 2; round++) {
    for (const c of callable) plan.calls.push({ ...c, args: c.params.map((p) => randomArg(rng, p)) });
  }
  return plan;
}

/** A JIT invoke's answer in the same terms as a direct call's. */
function jitOutcome(reply: Reply, call: CallPlan): Outcome {
  if (reply.status === 200) {
    const results = (reply.body as { results: { type: string; bits: string }[] }).results;
    const types = results.map((r) => r.type).join();
    if (types !== call.results.join()) return { kind: 'error', message: `result types ${types}, the signature says ${call.results.join()}` };
    return { kind: 'ok', results: results.map((r) => r.bits) };
  }
  const error = errorOf(reply);
  if (error?.code === 'Trap') return { kind: 'trap', message: String(error.trap) };
  if (error?.code === 'StackOverflow') return { kind: 'stackOverflow' };
  if (error?.code === 'ExecutionTimeout') return { kind: 'timeout' };
  return { kind: 'error', message: `${reply.status} ${shorten(reply.text)}` };
}

/** Why two outcomes of the same call disagree, or undefined if they agree. */
function disagreement(call: CallPlan | undefined, jit: Outcome, direct: Outcome, compareTrapKinds: boolean): string | undefined {
  if (jit.kind === 'ok' && direct.kind === 'ok') {
    const types = call?.results ?? [];
    const same = types.every((type, i) => sameValue(type, jit.results[i]!, direct.results[i]!));
    return same ? undefined : `results ${jit.results.join(', ')} vs direct ${direct.results.join(', ')}`;
  }
  if (jit.kind === 'trap' && direct.kind === 'trap') {
    return jit.message === direct.message || !compareTrapKinds ? undefined : `trap "${jit.message}" vs direct trap "${direct.message}"`;
  }
  if (jit.kind === direct.kind && jit.kind === 'stackOverflow') return undefined;
  return `${JSON.stringify(jit)} vs direct ${JSON.stringify(direct)}`;
}

/**
 * Outcomes after which a side's state is no longer comparable: a stopped call restarts the
 * executor (memories and globals back to their initial state), and stack depth differs
 * between the sides, so an overflow may leave different partial effects.
 */
const endsRun = (o: Outcome) => o.kind === 'timeout' || o.kind === 'stackOverflow';

async function sha256Memory(api: Api, dylib: string, name: string): Promise<string> {
  const reply = await api.get(`/dylibs/${dylib}/memories?symbol=${encodeURIComponent(name)}`);
  if (reply.status !== 200) return `read failed: ${reply.status} ${shorten(reply.text)}`;
  const { base64, pages } = reply.body as { base64: string; pages: number };
  return `${pages} pages, sha256 ${createHash('sha256').update(Buffer.from(base64, 'base64')).digest('hex')}`;
}

async function jitFinalState(api: Api, dylib: string, plan: Plan): Promise<FinalState> {
  const globals: Record<string, string> = {};
  if (plan.globals.length > 0) {
    const reply = await api.post(`/dylibs/${dylib}/lookup`, { symbols: plan.globals.map((g) => g.name) });
    const symbols = (reply.body as { symbols?: { name: string; value?: { bits: string } }[] }).symbols ?? [];
    for (const s of symbols) globals[s.name] = s.value?.bits ?? `no value (${reply.status})`;
  }
  const memories: Record<string, string> = {};
  for (const m of plan.memories) memories[m] = await sha256Memory(api, dylib, m);
  return { globals, memories };
}

class ModuleRun {
  readonly mismatches: string[];
  readonly known: Differences['known'][number][];
  readonly #api: Api;
  readonly #label: string;
  constructor(api: Api, label: string, report: ModuleReport) {
    this.#api = api;
    this.#label = label;
    this.mismatches = report.mismatches;
    this.known = report.known;
  }

  fail(message: string): void {
    this.mismatches.push(`${this.#label}: ${message}`);
  }

  /** A refused request must have defined nothing, the documented exception aside (counted, not failed). */
  checkRefusal(d: Differences): void {
    for (const u of d.unexpected) this.fail(`a refused request changed the session: ${u}`);
    this.known.push(...d.known);
  }

  /** A request whose answer must follow the contract and have the expected status. */
  async expect(status: number, method: 'POST' | 'DELETE', url: string, payload?: unknown): Promise<Reply | undefined> {
    const reply = await this.#api.request(method, url, payload);
    const violation = contractViolation(reply);
    if (violation) this.fail(violation);
    else if (reply.status !== status) this.fail(`${reply.status} (expected ${status}) for ${reply.what}: ${shorten(reply.text)}`);
    return reply.status === status && !violation ? reply : undefined;
  }
}

/** Adds the module to a fresh dylib in `mode`, makes the calls, reads the final state, removes the dylib. */
async function runJit(api: Api, run: ModuleRun, dylib: string, bytes: Uint8Array, plan: Plan, mode: 'lazy' | 'eager', opts: DifferentialOptions): Promise<JitRun | undefined> {
  if (!(await run.expect(201, 'POST', '/dylibs', { name: dylib, linkOrder: [dylib, FUZZING_SUPPORT] }))) return undefined;
  try {
    const before = await snapshot(api);
    const added = await api.post(`/dylibs/${dylib}/modules`, { wasm: Buffer.from(bytes).toString('base64'), lazy: mode === 'lazy', optimize: opts.optimize });
    const violation = contractViolation(added);
    if (violation) run.fail(`${mode}: ${violation}`);
    if (added.status !== 201) {
      // A trap in the start function fails the add, and so may a start function running past
      // the call time limit (not comparable, but no bug); anything else is wrong for a valid module.
      const code = errorOf(added)?.code ?? String(added.status);
      if (code !== 'Trap' && code !== 'ExecutionTimeout') run.fail(`${mode}: the add answered ${added.status}: ${shorten(added.text)}`);
      run.checkRefusal(differences(before, await snapshot(api), { what: `${mode} add`, lazyAdd: mode === 'lazy', code }));
      return code === 'Trap' ? { mode, add: { kind: 'trap', message: String(errorOf(added)?.trap) }, calls: [] } : undefined;
    }
    checkAddedSymbols(run, mode, added, plan);
    const jit: JitRun = { mode, add: { kind: 'ok', results: [] }, calls: [] };
    for (const call of plan.calls) {
      const args = call.args.map((value, i) => ({ type: call.params[i], value }));
      const reply = await api.post(`/dylibs/${dylib}/invoke`, { symbol: call.name, args, timeoutMs: opts.invokeTimeoutMs });
      const violation = contractViolation(reply);
      if (violation) run.fail(`${mode}: ${violation}`);
      const outcome = jitOutcome(reply, call);
      jit.calls.push(outcome);
      if (endsRun(outcome)) return jit;
    }
    jit.final = await jitFinalState(api, dylib, plan);
    return jit;
  } finally {
    await run.expect(204, 'DELETE', `/dylibs/${dylib}`);
  }
}

/** The add's symbols are the module's exports, functions with the binary's signatures. */
function checkAddedSymbols(run: ModuleRun, mode: string, added: Reply, plan: Plan): void {
  const symbols = (added.body as { symbols: { name: string; kind: string; type?: FuncType }[] }).symbols;
  for (const [name, type] of plan.exportTypes) {
    const s = symbols.find((x) => x.name === name);
    if (!s) run.fail(`${mode}: the add defined no symbol for export ${JSON.stringify(name)}`);
    else if (s.kind !== 'function' || JSON.stringify(s.type) !== JSON.stringify({ params: type.params, results: type.results })) {
      run.fail(`${mode}: export ${JSON.stringify(name)} is ${s.kind} ${JSON.stringify(s.type)}, the binary says ${JSON.stringify(type)}`);
    }
  }
}

function compareRuns(run: ModuleRun, plan: Plan, jit: JitRun, direct: DirectRun, compareTrapKinds: boolean): number {
  const addWhy = disagreement(undefined, jit.add, direct.instantiation, compareTrapKinds);
  if (addWhy) {
    run.fail(`${jit.mode}: adding vs instantiating: ${addWhy}`);
    return 0;
  }
  let compared = 0;
  for (const [i, call] of plan.calls.entries()) {
    const j = jit.calls[i];
    const d = direct.calls[i];
    if (!j || !d || j.kind === 'timeout') break;
    if (d.kind === 'timeout') {
      run.fail(`${jit.mode}: ${call.name}(${call.args.join(', ')}) ended on the JIT (${j.kind}) but not directly within the deadline`);
      break;
    }
    const why = disagreement(call, j, d, compareTrapKinds);
    if (why) run.fail(`${jit.mode}: call #${i} ${call.name}(${call.args.join(', ')}): ${why}`);
    compared++;
    if (endsRun(j) || endsRun(d)) break;
  }
  if (jit.final && direct.final) compareFinal(run, jit.mode, plan, jit.final, direct.final);
  return compared;
}

function compareFinal(run: ModuleRun, mode: string, plan: Plan, jit: FinalState, direct: FinalState): void {
  for (const g of plan.globals) {
    const [j, d] = [jit.globals[g.name], direct.globals[g.name]];
    if (j === undefined || d === undefined || !sameValue(g.type, j, d)) {
      run.fail(`${mode}: after the calls, global ${JSON.stringify(g.name)} (${g.type}) is ${j} vs direct ${d}`);
    }
  }
  for (const m of plan.memories) {
    if (jit.memories[m] !== direct.memories[m]) {
      run.fail(`${mode}: after the calls, memory ${JSON.stringify(m)} is ${jit.memories[m]} vs direct ${direct.memories[m]}`);
    }
  }
}

/** Runs the calls the JIT runs made, directly, with the same imports. */
function directRun(bytes: Uint8Array<ArrayBuffer>, providers: Record<string, Provider>, plan: Plan, jitRuns: readonly JitRun[], opts: DifferentialOptions): Promise<DirectRun> {
  // As many calls as the longest JIT run made. The deadline is generous: calls the JIT
  // finished within its time limit should finish directly too.
  const callsToMake = Math.max(...jitRuns.map((j) => j.calls.filter((o) => o.kind !== 'timeout').length));
  const importModules: Record<string, Uint8Array<ArrayBuffer>> = { [FUZZING_SUPPORT]: FUZZING_SUPPORT_WASM };
  for (const [name, p] of Object.entries(providers)) importModules[name] = p.wasm;
  const input = { bytes, importModules, calls: plan.calls.slice(0, callsToMake), globals: plan.globals, memories: plan.memories };
  return runDirect(input, 5000 + callsToMake * opts.invokeTimeoutMs);
}

function countOutcomes(report: ModuleReport, jit: JitRun): void {
  for (const o of [jit.add, ...jit.calls]) report.outcomes[o.kind] = (report.outcomes[o.kind] ?? 0) + 1;
}

/**
 * Runs one ttf module through the JIT and directly and reports every disagreement.
 * `label` names the module in messages; `seq` makes its dylib names unique.
 */
export async function differential(api: Api, bytes: Uint8Array<ArrayBuffer>, rng: Prng, label: string, seq: number, opts: DifferentialOptions): Promise<ModuleReport> {
  const report: ModuleReport = { compared: 0, stoppedEarly: 0, outcomes: {}, mismatches: [], known: [] };
  let binary: ModuleBinary;
  try {
    binary = decodeModuleBinary(bytes);
  } catch (err) {
    return { ...report, skipped: `the test's decoder cannot read it: ${(err as Error).message}` };
  }
  const provided = providersFor(binary);
  if ('unsupported' in provided) return { ...report, skipped: `unsupported import ${provided.unsupported}` };
  const plan = planCalls(binary, rng);
  const run = new ModuleRun(api, label, report);

  // Import providers other than the shared fuzzing-support live in dylibs of this module only.
  for (const [name, p] of Object.entries(provided.providers)) {
    await run.expect(201, 'POST', '/dylibs', { name });
    await run.expect(201, 'POST', `/dylibs/${name}/modules`, { wat: p.wat });
  }
  const jitRuns: JitRun[] = [];
  try {
    for (const mode of opts.modes) {
      const jit = await runJit(api, run, `fz${seq}-${mode}`, bytes, plan, mode, opts);
      if (jit) jitRuns.push(jit);
    }
  } finally {
    for (const name of Object.keys(provided.providers)) await run.expect(204, 'DELETE', `/dylibs/${name}`);
  }
  if (jitRuns.length === 0) return report;

  const direct = await directRun(bytes, provided.providers, plan, jitRuns, opts);
  // Final states only compare when both sides made every planned call.
  if (direct.calls.length < plan.calls.length) direct.final = undefined;
  for (const jit of jitRuns) {
    report.compared += compareRuns(run, plan, jit, direct, opts.optimize === 0);
    if (jit.add.kind === 'ok' && !jit.final) report.stoppedEarly++;
    countOutcomes(report, jit);
  }
  return report;
}
