// Turns a .wast script into a typed command list: converts it with wast2json (once per machine,
// see wast2jsonCache.ts; once per process per path here), reads its JSON and the .wasm files it
// wrote, and parses values into WasmValue / Expected. Commands this harness cannot run (text
// modules wast2json leaves as .wat, value types it does not know) become `skip` commands with
// a reason, so they are counted rather than silently dropped.

import { readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { WasmValue } from '../../src/wasm/types.ts';
import type { Expected, LanePattern, NanPattern } from './expected.ts';
import { isNumType, lanesToV128, type LaneType } from './values.ts';
import { convertCached } from './wast2jsonCache.ts';

export type CommandKind =
  | 'module'
  | 'register'
  | 'action'
  | 'assert_return'
  | 'assert_trap'
  | 'assert_exhaustion'
  | 'assert_invalid'
  | 'assert_malformed'
  | 'assert_unlinkable'
  | 'assert_uninstantiable'
  | 'unknown';

export const COMMAND_KINDS: readonly CommandKind[] = [
  'module',
  'register',
  'action',
  'assert_return',
  'assert_trap',
  'assert_exhaustion',
  'assert_invalid',
  'assert_malformed',
  'assert_unlinkable',
  'assert_uninstantiable',
  'unknown',
];

export type Action =
  | { readonly type: 'invoke'; readonly module: string | undefined; readonly field: string; readonly args: readonly WasmValue[] }
  | { readonly type: 'get'; readonly module: string | undefined; readonly field: string };

/** A binary module written by wast2json. */
export interface ModuleFile {
  readonly filename: string;
  readonly bytes: Uint8Array;
}

export type ModuleAssertionKind = 'assert_invalid' | 'assert_malformed' | 'assert_unlinkable' | 'assert_uninstantiable';

export type Command =
  | { readonly kind: 'module'; readonly line: number; readonly name: string | undefined; readonly module: ModuleFile }
  | { readonly kind: 'register'; readonly line: number; readonly name: string | undefined; readonly as: string }
  | { readonly kind: 'action'; readonly line: number; readonly action: Action }
  | { readonly kind: 'assert_return'; readonly line: number; readonly action: Action; readonly expected: readonly Expected[] }
  | { readonly kind: 'assert_trap' | 'assert_exhaustion'; readonly line: number; readonly action: Action; readonly text: string }
  | { readonly kind: ModuleAssertionKind; readonly line: number; readonly module: ModuleFile; readonly text: string }
  | { readonly kind: 'skip'; readonly countAs: CommandKind; readonly line: number; readonly reason: string };

export interface Script {
  /** Absolute path of the .wast file. */
  readonly path: string;
  /** File name without directory and `.wast`, e.g. "i32". */
  readonly name: string;
  readonly commands: readonly Command[];
  /** wast2json's complaints about the script, if the conversion that was used had any. */
  readonly warnings: string;
}

/** A value or command this harness cannot represent; parse turns it into a skip. */
class Unsupported extends Error {}

// ---- conversion -----------------------------------------------------------------------------

const cache = new Map<string, Promise<Script>>();

async function convert(path: string): Promise<Script> {
  const conversion = await convertCached(path);
  const json: unknown = JSON.parse(readFileSync(conversion.jsonPath, 'utf8'));
  return { path, name: basename(path, '.wast'), commands: parseCommands(json, conversion.dir), warnings: conversion.ok ? '' : conversion.stderr };
}

/** Converts and parses a script, once per process per path. */
export function loadScript(path: string): Promise<Script> {
  const abs = resolve(path);
  let script = cache.get(abs);
  if (!script) {
    script = convert(abs);
    cache.set(abs, script);
  }
  return script;
}

// ---- JSON parsing ---------------------------------------------------------------------------

type Json = Record<string, unknown>;

function obj(x: unknown, what: string): Json {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new Error(`wast2json output: ${what} is not an object`);
  return x as Json;
}

function str(o: Json, key: string): string {
  const v = o[key];
  if (typeof v !== 'string') throw new Error(`wast2json output: "${key}" is not a string`);
  return v;
}

function optStr(o: Json, key: string): string | undefined {
  const v = o[key];
  return typeof v === 'string' ? v : undefined;
}

function parseCommands(json: unknown, dir: string): Command[] {
  const list = obj(json, 'top level')['commands'];
  if (!Array.isArray(list)) throw new Error('wast2json output: no command list');
  return list.map((c: unknown) => {
    const cmd = obj(c, 'command');
    const line = typeof cmd['line'] === 'number' ? cmd['line'] : 0;
    const type = str(cmd, 'type');
    const countAs: CommandKind = (COMMAND_KINDS as readonly string[]).includes(type) ? (type as CommandKind) : 'unknown';
    try {
      return parseCommand(cmd, type, line, dir);
    } catch (err) {
      if (err instanceof Unsupported) return { kind: 'skip', countAs, line, reason: err.message };
      throw err;
    }
  });
}

function readModule(cmd: Json, dir: string): ModuleFile {
  const filename = str(cmd, 'filename');
  const moduleType = optStr(cmd, 'module_type') ?? 'binary';
  if (moduleType !== 'binary' || !filename.endsWith('.wasm')) {
    throw new Unsupported('text module (wast2json leaves `module quote` as .wat)');
  }
  return { filename, bytes: new Uint8Array(readFileSync(join(dir, filename))) };
}

function parseCommand(cmd: Json, type: string, line: number, dir: string): Command {
  switch (type) {
    case 'module':
      return { kind: 'module', line, name: optStr(cmd, 'name'), module: readModule(cmd, dir) };
    case 'register':
      return { kind: 'register', line, name: optStr(cmd, 'name'), as: str(cmd, 'as') };
    case 'action':
      return { kind: 'action', line, action: parseAction(cmd['action']) };
    case 'assert_return': {
      const expected = cmd['expected'];
      if (!Array.isArray(expected)) throw new Error('wast2json output: assert_return without "expected"');
      return { kind: 'assert_return', line, action: parseAction(cmd['action']), expected: expected.map(parseExpected) };
    }
    case 'assert_trap':
    case 'assert_exhaustion':
      return { kind: type, line, action: parseAction(cmd['action']), text: optStr(cmd, 'text') ?? '' };
    case 'assert_invalid':
    case 'assert_malformed':
    case 'assert_unlinkable':
    case 'assert_uninstantiable':
      return { kind: type, line, module: readModule(cmd, dir), text: optStr(cmd, 'text') ?? '' };
    default:
      throw new Unsupported(`unknown command type "${type}"`);
  }
}

function parseAction(x: unknown): Action {
  const a = obj(x, 'action');
  const type = str(a, 'type');
  const module = optStr(a, 'module');
  const field = str(a, 'field');
  if (type === 'get') return { type, module, field };
  if (type !== 'invoke') throw new Unsupported(`unknown action type "${type}"`);
  const args = a['args'];
  if (!Array.isArray(args)) throw new Error('wast2json output: invoke without "args"');
  return { type, module, field, args: args.map(parseArg) };
}

const LANE_TYPES: readonly string[] = ['i8', 'i16', 'i32', 'i64', 'f32', 'f64'];

function laneType(v: Json): LaneType {
  const t = str(v, 'lane_type');
  if (!LANE_TYPES.includes(t)) throw new Unsupported(`unknown v128 lane type "${t}"`);
  return t as LaneType;
}

function laneValues(v: Json): string[] {
  const lanes = v['value'];
  if (!Array.isArray(lanes) || !lanes.every((l) => typeof l === 'string')) throw new Error('wast2json output: v128 lanes are not strings');
  return lanes as string[];
}

function isNanPattern(s: string): s is NanPattern {
  return s === 'nan:canonical' || s === 'nan:arithmetic';
}

function checkBits(s: string): string {
  if (!/^\d+$/.test(s)) throw new Unsupported(`value "${s}" is not a bit pattern`);
  return s;
}

function parseArg(x: unknown): WasmValue {
  const v = obj(x, 'value');
  const type = str(v, 'type');
  if (isNumType(type)) return { type, bits: checkBits(str(v, 'value')) };
  if (type === 'v128') return { type, bits: lanesToV128(laneType(v), laneValues(v).map(checkBits)) };
  if (type === 'funcref' || type === 'externref') {
    const value = str(v, 'value');
    return { type, bits: value === 'null' ? null : value };
  }
  throw new Unsupported(`value type "${type}" is not supported`);
}

function parseExpected(x: unknown): Expected {
  const v = obj(x, 'expected value');
  const type = str(v, 'type');
  if (type === 'either') {
    const values = v['values'];
    if (!Array.isArray(values)) throw new Error('wast2json output: "either" without "values"');
    return { kind: 'either', options: values.map(parseExpected) };
  }
  if (isNumType(type)) {
    const value = str(v, 'value');
    if (isNanPattern(value)) {
      if (type !== 'f32' && type !== 'f64') throw new Unsupported(`${value} on ${type}`);
      return { kind: 'nan', type, nan: value };
    }
    return { kind: 'value', value: { type, bits: checkBits(value) } };
  }
  if (type === 'v128') {
    const lt = laneType(v);
    const lanes = laneValues(v).map((l): LanePattern => (isNanPattern(l) ? { nan: l } : { bits: checkBits(l) }));
    return { kind: 'v128', laneType: lt, lanes };
  }
  if (type === 'funcref') {
    // wabt writes `(ref.func)` (any function reference) with an index-like value or none.
    return optStr(v, 'value') === 'null' ? { kind: 'value', value: { type, bits: null } } : { kind: 'refFunc' };
  }
  if (type === 'externref') {
    const value = optStr(v, 'value');
    if (value === undefined) throw new Unsupported('`(ref.extern)` without a host value');
    return { kind: 'value', value: { type, bits: value === 'null' ? null : value } };
  }
  throw new Unsupported(`expected value type "${type}" is not supported`);
}
