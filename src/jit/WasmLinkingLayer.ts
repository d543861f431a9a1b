// The WasmLinkingLayer plays ORC's ObjectLinkingLayer: it takes a compiled piece of a module
// (its globals module, some extracted bodies, or the whole module), finds an executor address
// for every import (through the dylibs' symbol tables), gives every export an address, and
// has the executor instantiate it.

import type { ExecutionSession } from '../core/ExecutionSession.ts';
import type { JITDylib, JITDylibSearchOrder, SymbolTableEntry } from '../core/JITDylib.ts';
import { SymbolState } from '../core/SymbolFlags.ts';
import type { Executor } from '../executor/Executor.ts';
import type { ExecutorAddr, ExportPlacement, ImportBinding } from '../executor/protocol.ts';
import type { EntityRef, ImportInfo } from '../wasm/index.ts';
import type { CompiledObject } from './WasmCompiler.ts';
import { funcTypeKey, type FuncType, type GlobalType, type Limits, type MemoryType, type TableType } from '../wasm/types.ts';
import type { AddressSpace } from './AddressSpace.ts';
import { publicOrder } from './publicOrder.ts';
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
    const { order, entry, missing } = this.searchImport(record, imp);
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
   * Checks, at add, that every memory, table and global the module imports resolves and fits
   * the import's type as instantiation would check it: limits against the provided memory's
   * or table's current size and declared maximum, a global's type and mutability. Lazy and
   * eager adds alike, so an unlinkable module is refused when it is added (imports.wast), not
   * at some later first lookup. Throws UnresolvedImport.
   */
  async checkDataImports(record: WasmModuleRecord): Promise<void> {
    for (const imp of record.parsed.info.imports) {
      if (imp.kind === 'function') continue;
      const { order, entry, missing } = this.searchImport(record, imp);
      if (!order || !entry) throw new UnresolvedImport(imp, `resolves nowhere: ${missing}`);
      const where = `${entry.jd.name}:${JSON.stringify(entry.name)}`;
      if (entry.info.kind !== imp.kind) throw new UnresolvedImport(imp, `resolves to ${where}, which is a ${entry.info.kind}`);
      if (imp.kind === 'global') {
        const want = imp.type as GlobalType;
        const have = entry.info.type as GlobalType;
        if (want.type !== have.type || want.mutable !== have.mutable) {
          throw new UnresolvedImport(imp, `incompatible import type: ${where} is a ${describeGlobal(have)} global, the import wants ${describeGlobal(want)}`);
        }
        continue;
      }
      const want = imp.type as MemoryType | TableType;
      const have = entry.info.type as MemoryType | TableType;
      if (imp.kind === 'table' && (want as TableType).elementType !== (have as TableType).elementType) {
        throw new UnresolvedImport(imp, `incompatible import type: ${where} holds ${(have as TableType).elementType}, the import wants ${(want as TableType).elementType}`);
      }
      const def = await this.session.lookupOne(order, imp.name);
      const size = await this.executor.dataSize(def.address);
      const why = limitsMismatch({ ...have, initial: size }, want, imp.kind === 'memory' ? 'pages' : 'elements');
      if (why) throw new UnresolvedImport(imp, `incompatible import type: ${where} ${why}`);
    }
  }

  /** The symbol one of the module's imports resolves to now, if any; materializes nothing. */
  findImport(record: WasmModuleRecord, imp: ImportInfo): SymbolTableEntry | undefined {
    return this.searchImport(record, imp).entry;
  }

  /**
   * Where an import is looked for: module name `env` through the importing dylib's link order
   * (exported symbols only), any other module name as an exported symbol of the dylib of that name.
   */
  private searchImport(record: WasmModuleRecord, imp: ImportInfo) {
    let order: JITDylibSearchOrder | undefined;
    let missing: string;
    if (imp.module === 'env') {
      order = publicOrder(record.targetJD);
      missing = `the link order of "${record.targetJD.name}" has no symbol "${imp.name}"`;
    } else {
      const jd = this.session.getJITDylibByName(imp.module);
      order = jd ? [{ jd, flags: 'MatchExportedSymbolsOnly' as const }] : undefined;
      missing = jd ? `dylib "${imp.module}" has no symbol "${imp.name}"` : `there is no dylib named "${imp.module}"`;
    }
    const entry = order && this.session.search(order, imp.name);
    return { order, entry, missing };
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

/** Why limits `have` (current size, declared maximum) do not satisfy an import declaring `want`; undefined if they do. */
function limitsMismatch(have: Limits, want: Limits, unit: string): string | undefined {
  if (Boolean(have.shared) !== Boolean(want.shared)) return `is ${have.shared ? '' : 'not '}shared, the import ${want.shared ? 'is' : 'is not'}`;
  if (have.initial < want.initial) return `has ${have.initial} ${unit}, fewer than the import's minimum ${want.initial}`;
  if (want.maximum === undefined) return undefined;
  if (have.maximum === undefined) return `has no maximum, the import declares maximum ${want.maximum}`;
  if (have.maximum > want.maximum) return `has maximum ${have.maximum}, larger than the import's maximum ${want.maximum}`;
  return undefined;
}

function describeGlobal(t: GlobalType): string {
  return `${t.mutable ? 'mutable' : 'immutable'} ${t.type}`;
}

function addDep(deps: LinkDependencies, jd: JITDylib, name: string): void {
  let names = deps.get(jd);
  if (!names) deps.set(jd, (names = []));
  names.push(name);
}
