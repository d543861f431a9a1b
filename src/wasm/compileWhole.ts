// The whole module as one piece (ORC's per-module partitioning, or eager compilation): the
// binary of record, optimized as a whole when asked. Imports keep their original module and
// names (the optimizer is told not to drop or merge them, so linking checks what direct
// instantiation would), and the start function stays a start function.

import { readWasm } from './binaryen.ts';
import { describeEmitted, type CompiledPiece } from './compiledPiece.ts';
import type { EntityRef } from './moduleInfo.ts';
import type { ParsedModule } from './ParsedModule.ts';
import type { ExternKind } from './types.ts';

export interface CompileWholeOptions {
  /** binaryen optimization level; 0 returns the binary of record unchanged. */
  readonly optimizeLevel: number;
}

export function compileWhole(m: ParsedModule, opts: CompileWholeOptions): CompiledPiece {
  const { info } = m;
  if (opts.optimizeLevel <= 0) {
    return {
      bytes: m.bytes,
      imports: info.imports.map(({ module, name, kind, index }) => ({ module, name, ref: { kind, index } })),
      hostImports: [],
      exports: info.exports.map(({ name, kind, index }) => ({ name, ref: { kind, index } })),
    };
  }

  // The parsed IR stays the source for extraction, so optimize a fresh copy.
  const copy = readWasm(m.bytes);
  let bytes: Uint8Array;
  try {
    copy.optimize(opts.optimizeLevel, { keepImports: true });
    const diagnostics = copy.validate();
    if (diagnostics.length > 0) throw new Error(`the optimized module does not validate:\n${diagnostics.join('\n')}`);
    bytes = copy.emit(true);
  } finally {
    copy.dispose();
  }

  // binaryen writes imports grouped by kind, each kind in its original order: match them up.
  const pending = new Map<string, EntityRef[]>();
  for (const imp of info.imports) {
    const key = importKey(imp.module, imp.name, imp.kind);
    let list = pending.get(key);
    if (!list) pending.set(key, (list = []));
    list.push({ kind: imp.kind, index: imp.index });
  }
  const exportsByName = new Map(info.exports.map((e) => [e.name, { kind: e.kind, index: e.index }] as const));
  return describeEmitted(
    bytes,
    (module, name, kind) => {
      const ref = pending.get(importKey(module, name, kind))?.shift();
      if (!ref) throw new Error(`the optimized module imports ${kind} ${module}.${name}, which the original does not`);
      return ref;
    },
    (name) => {
      const ref = exportsByName.get(name);
      if (!ref) throw new Error(`the optimized module exports ${name}, which the original does not`);
      return ref;
    },
  );
}

function importKey(module: string, name: string, kind: ExternKind): string {
  return `${kind}\0${module}\0${name}`;
}
