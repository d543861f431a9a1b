// The names under which the pieces of a split module import and export entities among
// themselves. A piece imports memories, tables and globals from module "g" under the very
// names the globals module exports them ("memory:0", "table:1", "global:3"), so a linker can
// bind them by name or by the ref each import carries; functions are imported from module "fn"
// under their index in the original module. Every import a piece declares also carries its
// EntityRef, so nothing needs to parse these names except this layer.

import type { EntityRef } from './moduleInfo.ts';
import type { ExternKind } from './types.ts';

export const GLOBALS_MODULE = 'g';
export const FUNCTION_MODULE = 'fn';
/** Functions the executor provides (e.g. the reoptimize hook); never a name chooseFunctionModule returns. */
export const HOST_MODULE = 'jit';

export function entityName(ref: EntityRef): string {
  return `${ref.kind}:${ref.index}`;
}

const KINDS: ReadonlySet<string> = new Set<ExternKind>(['function', 'global', 'memory', 'table']);

export function parseEntityName(name: string): EntityRef | undefined {
  const m = /^([a-z]+):(0|[1-9][0-9]*)$/.exec(name);
  if (!m || !KINDS.has(m[1]!)) return undefined;
  return { kind: m[1] as ExternKind, index: Number(m[2]) };
}

/**
 * The module name for function imports of the globals module, which also imports everything the
 * original module imports: "fn", unless the original imports from a module of that name.
 */
export function chooseFunctionModule(importModules: Iterable<string>): string {
  const taken = new Set(importModules);
  let name = FUNCTION_MODULE;
  while (taken.has(name)) name += '$';
  return name;
}

/**
 * The module name for the executor's own functions (HostImports) in a piece whose other imports
 * come from `importModules`: "jit", or "jit$", "jit$$"... when one of those is taken.
 */
export function chooseHostModule(importModules: Iterable<string>): string {
  const taken = new Set(importModules);
  let name = HOST_MODULE;
  while (taken.has(name)) name += '$';
  return name;
}
