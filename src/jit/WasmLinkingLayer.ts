// The WasmLinkingLayer plays ORC's ObjectLinkingLayer: it takes a compiled piece of a module
// (its globals module, some extracted bodies, or the whole module), finds an executor address
// for every import (through the dylibs' symbol tables), gives every export an address, and
// has the executor instantiate it.

import type { ExecutionSession } from '../core/ExecutionSession.ts';
import type { JITDylib, JITDylibSearchOrder } from '../core/JITDylib.ts';
import { SymbolState } from '../core/SymbolFlags.ts';
import type { Executor } from '../executor/Executor.ts';
import type { ExecutorAddr, ExportPlacement, ImportBinding } from '../executor/protocol.ts';
import type { EntityRef, ImportInfo } from '../wasm/index.ts';
import type { CompiledObject } from './WasmCompiler.ts';
import { funcTypeKey, type FuncType } from '../wasm/types.ts';
import type { AddressSpace } from './AddressSpace.ts';
import type { WasmModuleRecord } from './WasmModuleRecord.ts';

/** An import that resolves nowhere, or to the wrong kind of entity. */
export class UnresolvedImport extends Error {
  constructor(imp: ImportInfo, reason: string) {
    super(`import "${imp.module}" "${imp.name}" (${imp.kind}) ${reason}`);
    this.name = 'UnresolvedImport';
  }
}

/** Symbols a linked piece uses, by dylib, for the core's dependency tracking. */
export type LinkDependencies = Map<JITDylib, string[]>;

export interface LinkedPiece {
  /** Address of each exported entity of the piece. */
  readonly exports: ReadonlyMap<string, { readonly ref: EntityRef; readonly addr: ExecutorAddr }>;
  /** Settles when the executor has instantiated the piece. */
  readonly instantiated: Promise<void>;
  readonly deps: LinkDependencies;
}

export class WasmLinkingLayer {
  private readonly session: ExecutionSession;
  private readonly executor: Executor;
  private readonly addresses: AddressSpace;

  /**
   * Binds a function import that resolves nowhere yet to a stub that resolves it on first
   * call, so a module may be added before what it calls is.
   */
  private readonly bindLate: (record: WasmModuleRecord, imp: ImportInfo) => ExecutorAddr;

  constructor(
    session: ExecutionSession,
    executor: Executor,
    addresses: AddressSpace,
    bindLate: (record: WasmModuleRecord, imp: ImportInfo) => ExecutorAddr,
  ) {
    this.session = session;
    this.executor = executor;
    this.addresses = addresses;
    this.bindLate = bindLate;
  }

  /**
   * Runs a module's start function, after its globals module is linked. The globals module
   * cannot run it itself: the start function may call stubs whose bodies import that very
   * module's memories and tables, which exist only once its instance does.
   */
  async runStart(record: WasmModuleRecord, index: number, deps: LinkDependencies): Promise<void> {
    const addr = await this.functionAddress(record, index, deps);
    await this.executor.apply({ op: 'runStart', label: `${record.label} start`, addr });
  }

  /**
   * Resolves one of the module's own imports: module name `env` through the importing
   * dylib's link order, any other module name as a symbol of the dylib of that name.
   */
  async resolveImport(record: WasmModuleRecord, imp: ImportInfo, deps: LinkDependencies, allowLate = true): Promise<ExecutorAddr> {
    let order: JITDylibSearchOrder | undefined;
    let missing: string;
    if (imp.module === 'env') {
      order = record.targetJD.getLinkOrder();
      missing = `the link order of "${record.targetJD.name}" has no symbol "${imp.name}"`;
    } else {
      const jd = this.session.getJITDylibByName(imp.module);
      order = jd ? [{ jd, flags: 'MatchExportedSymbolsOnly' }] : undefined;
      missing = jd ? `dylib "${imp.module}" has no symbol "${imp.name}"` : `there is no dylib named "${imp.module}"`;
    }
    const entry = order && this.session.search(order, imp.name);
    if (!order || !entry) {
      if (allowLate && imp.kind === 'function') {
        const addr = this.bindLate(record, imp);
        record.setAddress({ kind: imp.kind, index: imp.index }, addr);
        return addr;
      }
      throw new UnresolvedImport(imp, `resolves nowhere: ${missing}`);
    }
    if (entry.info.kind !== imp.kind) {
      throw new UnresolvedImport(imp, `resolves to ${entry.jd.name}:"${entry.name}", which is a ${entry.info.kind}`);
    }
    if (imp.kind === 'function' && funcTypeKey(entry.info.type as FuncType) !== funcTypeKey(imp.type as FuncType)) {
      throw new UnresolvedImport(imp, `resolves to ${entry.jd.name}:"${entry.name}", whose type ${funcTypeKey(entry.info.type as FuncType)} differs from the import's ${funcTypeKey(imp.type as FuncType)}`);
    }
    const def = await this.session.lookupOne(order, imp.name);
    addDep(deps, def.entry.jd, def.entry.name);
    record.setAddress({ kind: imp.kind, index: imp.index }, def.address);
    return def.address;
  }

  /**
   * The address a piece should call for function `index` of the module: its import's
   * resolution, its globals-module body, its compiled body when there is one already (its
   * optimized tier if it has one, so code compiled later links straight to the best code),
   * else its stub.
   */
  async functionAddress(record: WasmModuleRecord, index: number, deps: LinkDependencies): Promise<ExecutorAddr> {
    const known = record.address({ kind: 'function', index });
    // An import whose dylib was removed since is resolved again (as late imports are).
    if (known !== undefined && !this.addresses.isReleased(known)) return known;
    const info = record.parsed.info.functions[index];
    if (info?.imported) {
      const imp = record.parsed.info.imports.find((i) => i.kind === 'function' && i.index === index);
      if (!imp) throw new Error(`function ${index} is imported but has no import entry`);
      return this.resolveImport(record, imp, deps);
    }
    const name = record.functionSymbol(index);
    if (name === undefined) throw new Error(`function ${index} of ${record.label} has no symbol`);
    const body = record.implJD?.entry(name);
    if (body && body.state === SymbolState.Ready && body.address !== undefined && !body.error) {
      addDep(deps, body.jd, body.name);
      return record.optimizedBody(index) ?? body.address;
    }
    const def = await this.session.lookupOne([{ jd: record.targetJD, flags: 'MatchAllSymbols' }], name);
    addDep(deps, def.entry.jd, def.entry.name);
    return def.address;
  }

  /** The address of any entity a piece imports. */
  async importAddress(record: WasmModuleRecord, ref: EntityRef, deps: LinkDependencies): Promise<ExecutorAddr> {
    if (ref.kind === 'function') return this.functionAddress(record, ref.index, deps);
    const known = record.address(ref);
    // Live modules keep what they imported alive (ModuleMemories): a released address means
    // the piece would link against an entity that is gone.
    if (known !== undefined && !this.addresses.isReleased(known)) return known;
    const imp = record.parsed.info.imports.find((i) => i.kind === ref.kind && i.index === ref.index);
    if (!imp) throw new Error(`${ref.kind} ${ref.index} of ${record.label} has no address yet`);
    if (known !== undefined) throw new UnresolvedImport(imp, 'resolved to an entity of a dylib removed since');
    return this.resolveImport(record, imp, deps);
  }

  /**
   * Links a piece: resolves its imports, places its exports (entities that already have an
   * address, such as re-exported imports, keep it) and sends it to the executor. Returns
   * without waiting for the executor; `instantiated` settles when it is done.
   */
  async link(record: WasmModuleRecord, piece: CompiledObject, label: string): Promise<LinkedPiece> {
    const deps: LinkDependencies = new Map();
    const imports: ImportBinding[] = await Promise.all(
      piece.imports.map(async (imp) => ({
        module: imp.module,
        name: imp.name,
        kind: imp.ref.kind,
        addr: await this.importAddress(record, imp.ref, deps),
      })),
    );
    const hooks = this.executor.hookAddresses();
    for (const h of piece.hostImports) imports.push({ module: h.module, name: h.name, kind: 'function', addr: hooks[h.host] });
    const placements: ExportPlacement[] = [];
    const exports = new Map<string, { ref: EntityRef; addr: ExecutorAddr }>();
    for (const exp of piece.exports) {
      let addr = exp.ref.kind === 'function' ? undefined : record.address(exp.ref);
      if (addr === undefined) {
        addr = this.addresses.allocate(exp.ref.kind);
        record.allocated.push(addr);
        placements.push({ name: exp.name, kind: exp.ref.kind, addr });
      }
      exports.set(exp.name, { ref: exp.ref, addr });
    }
    const instantiated = this.executor.apply({ op: 'instantiate', label, module: piece.module, imports, exports: placements });
    return { exports, instantiated, deps };
  }
}

function addDep(deps: LinkDependencies, jd: JITDylib, name: string): void {
  let names = deps.get(jd);
  if (!names) deps.set(jd, (names = []));
  names.push(name);
}
