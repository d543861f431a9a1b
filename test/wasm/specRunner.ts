// A differential runner over wast2json command lists: each module is instantiated directly on
// V8 and also loaded (loadModule), split into a globals module plus cut pieces, and linked by
// hand (helpers.ts); every action is run against both and the outcomes must agree. Binaries V8
// rejects must be refused by loadModule with InvalidModule.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidModule } from '../../src/core/errors.ts';
import { loadModule } from '../../src/wasm/index.ts';
import { instantiateDirect, instantiateSplit, type SplitOptions } from './helpers.ts';

type Exports = Record<string, WebAssembly.ExportValue>;
type Imports = Record<string, Record<string, WebAssembly.ExportValue>>;

interface JsonValue {
  readonly type: string;
  readonly value?: string | readonly string[];
}
interface Action {
  readonly type: 'invoke' | 'get';
  readonly module?: string;
  readonly field: string;
  readonly args?: readonly JsonValue[];
}
interface Command {
  readonly type: string;
  readonly line: number;
  readonly filename?: string;
  readonly name?: string;
  readonly as?: string;
  readonly action?: Action;
  readonly module_type?: string;
}

export interface SpecReport {
  modules: number;
  actions: number;
  rejectedAlike: number;
  mismatches: string[];
}

function spectest(): Imports {
  const print = () => {};
  return {
    spectest: {
      print,
      print_i32: print,
      print_i64: print,
      print_f32: print,
      print_f64: print,
      print_i32_f32: print,
      print_f64_f64: print,
      global_i32: new WebAssembly.Global({ value: 'i32' }, 666),
      global_i64: new WebAssembly.Global({ value: 'i64' }, 666n),
      global_f32: new WebAssembly.Global({ value: 'f32' }, 666.6),
      global_f64: new WebAssembly.Global({ value: 'f64' }, 666.6),
      table: new WebAssembly.Table({ element: 'anyfunc', initial: 10, maximum: 20 }),
      memory: new WebAssembly.Memory({ initial: 1, maximum: 2 }),
    },
  };
}

function toJs(v: JsonValue): unknown {
  const raw = typeof v.value === 'string' ? v.value : '0';
  switch (v.type) {
    case 'i32':
      return Number(BigInt.asIntN(32, BigInt(raw)));
    case 'i64':
      return BigInt.asIntN(64, BigInt(raw));
    case 'f32':
      return new Float32Array(new Uint32Array([Number(raw)]).buffer)[0];
    case 'f64':
      return new Float64Array(new BigUint64Array([BigInt(raw)]).buffer)[0];
    case 'externref':
      return raw === 'null' ? null : { ref: raw };
    case 'funcref':
      return null;
    default:
      throw new Error(`unsupported argument type ${v.type}`);
  }
}

/** An outcome both sides can be compared on: values (NaN-safe) or the kind of failure. */
function outcome(run: () => unknown): string {
  try {
    const r = run();
    return `ok:${describe(r)}`;
  } catch (e) {
    if (e instanceof WebAssembly.RuntimeError) return `trap:${e.message}`;
    if (e instanceof RangeError) return `exhaustion`;
    if (e instanceof WebAssembly.LinkError) return 'link-error';
    return `error:${e instanceof Error ? e.constructor.name : typeof e}`;
  }
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(describe).join(',')}]`;
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : Number.isNaN(v) ? 'NaN' : String(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (v === null) return 'null';
  if (typeof v === 'function') return 'func';
  if (typeof v === 'object') return 'ref';
  return String(v);
}

interface Side {
  current: Exports | undefined;
  named: Map<string, Exports>;
  registered: Imports;
}

function imports(side: Side): Imports {
  return { ...spectest(), ...side.registered };
}

function runAction(side: Side, action: Action): string {
  const target = action.module ? side.named.get(action.module) : side.current;
  if (!target) return 'no-module';
  const value = target[action.field];
  if (action.type === 'get') return outcome(() => (value as WebAssembly.Global).value);
  return outcome(() => (value as (...a: unknown[]) => unknown)(...(action.args ?? []).map(toJs)));
}

/** Runs one wast2json output; `dir` holds the .json and its .wasm files. */
export async function runSpecScript(dir: string, jsonFile: string, report: SpecReport, opts: SplitOptions): Promise<void> {
  const script = JSON.parse(readFileSync(join(dir, jsonFile), 'utf8')) as { commands: Command[] };
  const direct: Side = { current: undefined, named: new Map(), registered: {} };
  const split: Side = { current: undefined, named: new Map(), registered: {} };
  const where = (c: Command) => `${jsonFile}:${c.line}`;
  for (const c of script.commands) {
    if (c.type === 'module' || c.type === 'assert_unlinkable' || c.type === 'assert_uninstantiable') {
      if (!c.filename?.endsWith('.wasm')) continue;
      report.modules++;
      const bytes = new Uint8Array(readFileSync(join(dir, c.filename)));
      let d: Exports | undefined;
      const dOutcome = outcome(() => (d = instantiateDirect(bytes, imports(direct)).exports));
      let s: Exports | undefined;
      let sOutcome: string;
      try {
        const m = await loadModule(bytes);
        sOutcome = outcome(() => (s = instantiateSplit(m, imports(split), opts).exports));
      } catch (e) {
        sOutcome = `rejected:${e instanceof Error ? e.message : String(e)}`;
      }
      if (dOutcome.split(':')[0] !== sOutcome.split(':')[0]) {
        report.mismatches.push(`${where(c)} ${c.type}: direct ${dOutcome}, split ${sOutcome}`);
      }
      direct.current = d;
      split.current = s;
      if (c.name && d) direct.named.set(c.name, d);
      if (c.name && s) split.named.set(c.name, s);
    } else if (c.type === 'register' && c.as) {
      const d = c.name ? direct.named.get(c.name) : direct.current;
      const s = c.name ? split.named.get(c.name) : split.current;
      if (d) direct.registered[c.as] = d;
      if (s) split.registered[c.as] = s;
    } else if (c.action && (c.type === 'action' || c.type.startsWith('assert_'))) {
      report.actions++;
      const a = runAction(direct, c.action);
      const b = runAction(split, c.action);
      if (a !== b) report.mismatches.push(`${where(c)} ${c.type} ${c.action.field}: direct ${a}, split ${b}`);
    } else if ((c.type === 'assert_invalid' || c.type === 'assert_malformed') && c.filename?.endsWith('.wasm')) {
      const bytes = new Uint8Array(readFileSync(join(dir, c.filename)));
      if (WebAssembly.validate(bytes as Uint8Array<ArrayBuffer>)) continue; // V8 is the reference
      try {
        await loadModule(bytes);
        report.mismatches.push(`${where(c)} ${c.type}: V8 rejects, loadModule accepts`);
      } catch (e) {
        if (e instanceof InvalidModule) report.rejectedAlike++;
        else report.mismatches.push(`${where(c)} ${c.type}: loadModule fails with ${String(e)}, not InvalidModule`);
      }
    }
  }
}
