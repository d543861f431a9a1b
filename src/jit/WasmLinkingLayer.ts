// The WasmLinkingLayer plays ORC's ObjectLinkingLayer, the last layer of the chain: it takes a
// compiled piece of a module (its globals module, a partition of baseline bodies, an optimized
// tier, a whole eager module), charges it to the session's code budget, finds an executor
// address for every import (through the dylibs' symbol tables), gives every export an address,
// has the executor instantiate it, and then resolves and emits the responsibility's symbols.
// Every resource it makes is recorded under the responsibility's tracker, and every compile is
// reported to the observer here, in one place.

import type { ExecutionSession } from '../core/ExecutionSession.ts';
import { FailedToMaterialize } from '../core/errors.ts';
import type { JITDylib, JITDylibSearchOrder, SymbolTableEntry } from '../core/JITDylib.ts';
import type { MaterializationResponsibility } from '../core/MaterializationResponsibility.ts';
import type { ResourceKey } from '../core/ResourceTracker.ts';
import type { ExecutorAddr, ExecutorSymbolDef } from '../core/SymbolDefinition.ts';
import { SymbolState } from '../core/SymbolFlags.ts';
import type { Executor } from '../executor/Executor.ts';
import type { ExportPlacement, ImportBinding } from '../executor/protocol.ts';
import type { CompiledPiece, EntityRef, FuncType, GlobalType, ImportInfo, Limits, MemoryType, TableType } from '../wasm/index.ts';
import { funcTypeKey } from '../wasm/index.ts';
import type { CodeBudget } from './CodeBudget.ts';
import type { ExecutorResources } from './ExecutorResources.ts';
import type { IndirectStubsManager, Stub } from './IndirectStubsManager.ts';
import type { LazyCallThroughManager } from './LazyCallThroughManager.ts';
import type { CompileObserver, PieceRequest } from './PieceRequest.ts';
import { privateFunctionSymbolName } from './names.ts';
import { publicOrder } from './publicOrder.ts';
import { resourceKey } from './resourceKey.ts';
import type { WasmModuleRecord } from './WasmModuleRecord.ts';

/** An import that resolves nowhere, or to the wrong kind or type of entity. */
export class UnresolvedImport extends Error {
  constructor(imp: Pick<ImportInfo, 'module' | 'name' | 'kind'>, reason: string) {
    super(`import "${imp.module}" "${imp.name}" (${imp.kind}) ${reason}`);
    this.name = 'UnresolvedImport';
  }
}

/** Symbols a linked piece uses, by dylib, for the core's dependency tracking. */
type LinkDependencies = Map<JITDylib, string[]>;

export interface LinkingLayerDeps {
  readonly session: ExecutionSession;
  readonly executor: Executor;
  readonly addresses: ExecutorResources;
  readonly budget: CodeBudget;
  readonly stubs: IndirectStubsManager;
  readonly lctm: LazyCallThroughManager;
  readonly observer: CompileObserver;
}

export class WasmLinkingLayer {
  private readonly session: ExecutionSession;
  private readonly executor: Executor;
  private readonly addresses: ExecutorResources;
  private readonly budget: CodeBudget;
  private readonly stubs: IndirectStubsManager;
  private readonly lctm: LazyCallThroughManager;
  private readonly observer: CompileObserver;

  constructor(deps: LinkingLayerDeps) {
    this.session = deps.session;
    this.executor = deps.executor;
    this.addresses = deps.addresses;
    this.budget = deps.budget;
    this.stubs = deps.stubs;
    this.lctm = deps.lctm;
    this.observer = deps.observer;
  }

  /**
   * Links `piece` for `r`: resolves its imports, places its exports, instantiates it and resolves
   * and emits r's symbols (request.symbols says which export each is). A globals module or whole
   * module is awaited, and its start function run, before its symbols are resolved; bodies and
   * optimized pieces are not awaited (this may run inside a lazy call-through, while the executor
   * waits for the answer; it applies the instantiate before it goes on).
   */
  async emit(r: MaterializationResponsibility, request: PieceRequest, piece: CompiledPiece, compileMs: number): Promise<void> {
    const { record } = request;
    const key = resourceKey(r);
    const size = piece.bytes.byteLength;
    this.budget.charge(key, size, request.label);
    const started = performance.now();
    let instantiated: Promise<void>;
    const exports = new Map<string, ExecutorAddr>();
    const deps: LinkDependencies = new Map();
    try {
      const imports = await this.bindImports(record, piece, deps, key);
      const placements: ExportPlacement[] = [];
      for (const exp of piece.exports) {
        let addr = exp.ref.kind === 'function' ? undefined : record.address(exp.ref);
        if (addr === undefined) {
          addr = this.addresses.allocate(key, exp.ref.kind);
          placements.push({ name: exp.name, kind: exp.ref.kind, addr });
        }
        exports.set(refKey(exp.ref), addr);
      }
      const pointed = request.kind === 'bodies' ? this.stubPointerPlacements(record, piece, exports) : [];
      for (const p of pointed) placements.push(p.placement);
      instantiated = this.executor.apply({
        op: 'instantiate',
        label: request.label,
        bytes: piece.bytes,
        imports,
        exports: placements,
        tableElements: piece.tableElements ?? 0,
      });
      if (pointed.length > 0) {
        for (const p of pointed) this.stubs.notePointing(p.stub, p.body);
        instantiated.catch(() => {
          for (const p of pointed) this.stubs.forgetPointing(p.stub, p.body);
        });
      }
    } catch (err) {
      this.budget.refund(key, size);
      throw err;
    }
    // A globals module or whole module is instantiated (and its start function run) before its
    // symbols resolve: a trap there fails the add. Not during recovery: the executor replays
    // everything in order when it next starts, and the original add already succeeded.
    const awaited = (request.kind === 'globals' || request.kind === 'whole') && record.restoring === undefined;
    if (request.kind === 'globals' || request.kind === 'whole') {
      for (const exp of piece.exports) record.setAddress(exp.ref, exports.get(refKey(exp.ref)) as ExecutorAddr);
    }
    if (awaited) {
      await instantiated;
      if (piece.start) await this.runStart(record, piece.start.index, deps, key);
    } else {
      instantiated.catch((err: unknown) => this.session.reportError(err));
      if (piece.start) this.runStart(record, piece.start.index, deps, key).catch((err: unknown) => this.session.reportError(err));
    }

    const resolved = new Map<string, ExecutorSymbolDef>();
    for (const [name, ref] of request.symbols) {
      const info = r.getSymbols().get(name);
      if (!info) continue;
      const addr = ref === undefined ? 0 : (exports.get(refKey(ref)) ?? record.address(ref));
      if (addr === undefined) throw new Error(`${request.label}: nothing to resolve ${JSON.stringify(name)} to`);
      resolved.set(name, { address: addr, flags: info.flags });
    }
    if (request.kind === 'bodies' || request.kind === 'optimized') {
      for (const f of request.functions) {
        const addr = exports.get(refKey({ kind: 'function', index: f }));
        if (addr === undefined) continue;
        record.noteCompiled(f, { addr, tier: request.kind === 'optimized' ? 'optimized' : 'baseline' }, record.module.references(f).functions);
      }
    }
    r.notifyResolved(resolved);
    r.notifyEmitted(deps);
    this.observer({
      dylib: r.targetJD.name,
      names: compiledNames(request),
      kind: request.kind,
      bytes: size,
      ms: compileMs + (performance.now() - started),
    });
  }

  /**
   * A body compiled as part of another function's partition may already have a stub (a table
   * element, a function reference, an earlier piece's import): the instantiate places the body
   * in the stub's pointer slot too, or the first call through the stub would still take its
   * trampoline, a round trip to this thread only to find the body compiled. SQLite reached a
   * third of its call-throughs that way (table calls into bodies compiled beside their caller).
   * Placed by the instantiate itself, not by an updatePointer op each: no extra op, message or
   * reply per body, and nothing is placed if the instantiate fails. The optimized tier repoints
   * its stub itself (ReOptimizeLayer). The stubs manager is told, so the call-through that asked
   * for the body does not repoint the slot a second time.
   */
  private stubPointerPlacements(
    record: WasmModuleRecord,
    piece: CompiledPiece,
    exports: ReadonlyMap<string, ExecutorAddr>,
  ): { placement: ExportPlacement; stub: Stub; body: ExecutorAddr }[] {
    const out: { placement: ExportPlacement; stub: Stub; body: ExecutorAddr }[] = [];
    for (const exp of piece.exports) {
      if (exp.ref.kind !== 'function') continue;
      const name = record.functionSymbol(exp.ref.index);
      const stub = name === undefined ? undefined : this.stubs.findStub(record.targetJD, name);
      const body = exports.get(refKey(exp.ref));
      if (stub !== undefined && body !== undefined) out.push({ placement: { name: exp.name, kind: 'function', addr: stub.ptrAddr }, stub, body });
    }
    return out;
  }

  /** Runs a module's start function (after its globals module is linked), as instantiation would. */
  private async runStart(record: WasmModuleRecord, index: number, deps: LinkDependencies, key: ResourceKey): Promise<void> {
    const [addr] = await this.functionAddresses(record, [{ index, identity: false }], deps, key);
    await this.executor.apply({ op: 'runStart', label: `${record.label} start`, addr: addr as ExecutorAddr });
  }

  private async bindImports(record: WasmModuleRecord, piece: CompiledPiece, deps: LinkDependencies, key: ResourceKey): Promise<ImportBinding[]> {
    const functions = piece.imports.filter((i) => i.ref.kind === 'function');
    const functionAddrs = await this.functionAddresses(
      record,
      functions.map((i) => ({ index: i.ref.index, identity: i.identity === true })),
      deps,
      key,
    );
    const byImport = new Map(functions.map((imp, i) => [imp, functionAddrs[i] as ExecutorAddr]));
    const bindings: ImportBinding[] = [];
    for (const imp of piece.imports) {
      const addr = byImport.get(imp) ?? (await this.dataAddress(record, imp.ref, deps, key));
      bindings.push({ module: imp.module, name: imp.name, kind: imp.ref.kind, addr });
    }
    const hooks = this.executor.hookAddresses();
    for (const h of piece.hostImports) bindings.push({ module: h.module, name: h.name, kind: 'function', addr: hooks[h.host] });
    return bindings;
  }

  /** The address of a memory, table or global the piece imports. */
  private async dataAddress(record: WasmModuleRecord, ref: EntityRef, deps: LinkDependencies, key: ResourceKey): Promise<ExecutorAddr> {
    const known = record.address(ref);
    if (known !== undefined && !this.addresses.isReleased(known)) return known;
    const imp = record.module.info.imports.find((i) => i.kind === ref.kind && i.index === ref.index);
    if (!imp) throw new Error(`${ref.kind} ${ref.index} of ${record.label} has no address yet`);
    // A module's code keeps what it imports alive: an address released since means the entity is gone.
    if (known !== undefined) throw new UnresolvedImport(imp, 'resolved to an entity of a dylib removed since');
    return this.resolveImport(record, imp, deps, key);
  }

  /**
   * The addresses a piece should call for functions of the module: an import's resolution; a
   * kept function's place in the globals module; a compiled body (its best tier, so code compiled
   * later links straight to the best code) unless the piece needs the function's identity; else
   * the function's stub. The stubs are looked up together, in one lookup.
   */
  private async functionAddresses(
    record: WasmModuleRecord,
    wanted: readonly { readonly index: number; readonly identity: boolean }[],
    deps: LinkDependencies,
    key: ResourceKey,
  ): Promise<ExecutorAddr[]> {
    const out: (ExecutorAddr | undefined)[] = new Array(wanted.length);
    const stubNames = new Map<string, number[]>();
    for (let i = 0; i < wanted.length; i++) {
      const { index, identity } = wanted[i] as { index: number; identity: boolean };
      const ref = { kind: 'function' as const, index };
      if (index < record.module.importedFunctions) {
        const known = record.address(ref);
        if (known !== undefined && !this.addresses.isReleased(known)) out[i] = known;
        else {
          const imp = record.module.info.imports.find((x) => x.kind === 'function' && x.index === index);
          if (!imp) throw new Error(`function ${index} is imported but has no import entry`);
          out[i] = await this.resolveImport(record, imp, deps, key);
        }
        continue;
      }
      if (record.keptFunctions.has(index)) {
        const kept = record.address(ref);
        if (kept === undefined) throw new Error(`kept function ${index} of ${record.label} has no address yet`);
        out[i] = kept;
        continue;
      }
      const name = record.functionSymbol(index);
      if (name === undefined) throw new Error(`function ${index} of ${record.label} has no symbol`);
      const body = identity ? undefined : record.compiledBody(index);
      const bodyEntry = body && record.implJD?.entry(name);
      if (body && bodyEntry && bodyEntry.state === SymbolState.Ready && !bodyEntry.error && !this.addresses.isReleased(body.addr)) {
        addDep(deps, bodyEntry.jd, bodyEntry.name);
        out[i] = body.addr;
        continue;
      }
      let slots = stubNames.get(name);
      if (!slots) stubNames.set(name, (slots = []));
      slots.push(i);
    }
    if (stubNames.size > 0) {
      const found = await this.session.lookup([{ jd: record.targetJD, flags: 'MatchAllSymbols' }], [...stubNames.keys()]);
      for (const [name, slots] of stubNames) {
        const def = found.get(name);
        if (!def) throw new Error(`no stub for ${name}`);
        addDep(deps, def.entry.jd, def.entry.name);
        for (const i of slots) out[i] = def.address;
      }
    }
    return out as ExecutorAddr[];
  }

  /**
   * Resolves one of the module's own imports: module name `env` through the importing dylib's
   * link order, any other module name as an exported symbol of the dylib of that name. A
   * function import that resolves nowhere yet is bound to a stub that tries again on each call.
   */
  async resolveImport(record: WasmModuleRecord, imp: ImportInfo, deps: LinkDependencies, key: ResourceKey | undefined, allowLate = true): Promise<ExecutorAddr> {
    const { order, entry, missing } = this.searchImport(record, imp);
    if (!order || !entry) {
      if (allowLate && key !== undefined && imp.kind === 'function') {
        const addr = this.bindLate(record, imp, key);
        record.setAddress({ kind: imp.kind, index: imp.index }, addr);
        return addr;
      }
      throw new UnresolvedImport(imp, `resolves nowhere: ${missing}`);
    }
    checkKind(imp, entry);
    const def = await this.session.lookupOne(order, entry.name);
    addDep(deps, def.entry.jd, def.entry.name);
    record.setAddress({ kind: imp.kind, index: imp.index }, def.address);
    if (key !== undefined) this.addresses.noteUse(key, def.address);
    return def.address;
  }

  /**
   * A function import that resolves nowhere when its piece is linked gets a stub that looks it
   * up on each call until it resolves: calling it before it is defined fails with
   * FailedToMaterialize naming it, and defining it later makes the calls work.
   */
  private bindLate(record: WasmModuleRecord, imp: ImportInfo, key: ResourceKey): ExecutorAddr {
    const jd = record.targetJD;
    const name = `${record.id}:import[${JSON.stringify(imp.module)} ${JSON.stringify(imp.name)}]`;
    const existing = this.stubs.findStub(jd, name);
    if (existing && !this.addresses.isReleased(existing.stubAddr)) return existing.stubAddr;
    const resolve = async () => {
      try {
        return await this.resolveImport(record, imp, new Map(), undefined, false);
      } catch (err) {
        throw new FailedToMaterialize([{ dylib: jd.name, name: imp.name }], err);
      }
    };
    const id = this.lctm.getCustomTrampoline(key, resolve, (addr) => this.stubs.updatePointer(jd, name, addr));
    const stub = this.stubs.createStubs(jd, key, [{ name, type: imp.type as FuncType, callThroughId: id }]).get(name);
    if (!stub) throw new Error(`no stub created for ${name}`);
    return stub.stubAddr;
  }

  /**
   * Checks, at add, that every memory, table and global the module imports resolves and fits
   * the import's type as instantiation would check it: limits against the provided memory's or
   * table's current size and declared maximum, a global's type and mutability. Lazy and eager
   * adds alike, so an unlinkable module is refused when it is added (imports.wast), not at some
   * later first lookup. Throws UnresolvedImport.
   */
  async checkDataImports(record: WasmModuleRecord): Promise<void> {
    for (const imp of record.module.info.imports) {
      if (imp.kind === 'function') continue;
      const { order, entry, missing } = this.searchImport(record, imp);
      if (!order || !entry) throw new UnresolvedImport(imp, `resolves nowhere: ${missing}`);
      checkKind(imp, entry);
      const where = `${entry.jd.name}:${JSON.stringify(entry.name)}`;
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
      const def = await this.session.lookupOne(order, entry.name);
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
    const bound = imp.kind === 'function' ? undefined : record.restoredBinding(imp.module, imp.name);
    if (bound) {
      const jd = this.session.getJITDylibByName(bound.dylib);
      order = jd ? [{ jd, flags: 'MatchExportedSymbolsOnly' as const }] : undefined;
      const entry = order && this.session.search(order, bound.symbol);
      return { order, entry, missing: `the dylib "${bound.dylib}" it was bound to has no symbol "${bound.symbol}" any more` };
    }
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
}

function checkKind(imp: ImportInfo, entry: SymbolTableEntry): void {
  const where = `${entry.jd.name}:${JSON.stringify(entry.name)}`;
  if (entry.info.kind !== imp.kind) throw new UnresolvedImport(imp, `resolves to ${where}, which is a ${entry.info.kind}`);
  if (imp.kind === 'function' && funcTypeKey(entry.info.type as FuncType) !== funcTypeKey(imp.type as FuncType)) {
    throw new UnresolvedImport(
      imp,
      `resolves to ${where}, whose type ${funcTypeKey(entry.info.type as FuncType)} differs from the import's ${funcTypeKey(imp.type as FuncType)}`,
    );
  }
}

/**
 * The names an invoke's `compiled` lists for a piece: the bodies it compiled, named as the lazy
 * path names their symbols (the first export name, else `<module>:func[<index>]`), whichever
 * path compiled them.
 */
function compiledNames(request: PieceRequest): string[] {
  const { record } = request;
  const nameOf = (f: number) => record.functionSymbol(f) ?? record.module.binary.firstExportNames[f] ?? privateFunctionSymbolName(record.id, f);
  switch (request.kind) {
    case 'bodies':
      return request.functions.map(nameOf);
    case 'optimized':
      return request.root === undefined ? [] : [`${nameOf(request.root)} (optimized)`];
    case 'globals':
      return [...record.keptFunctions].map(nameOf);
    case 'whole':
      return record.module.info.functions.filter((f) => !f.imported).map((f) => nameOf(f.index));
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

function refKey(ref: EntityRef): string {
  return `${ref.kind}:${ref.index}`;
}

function addDep(deps: LinkDependencies, jd: JITDylib, name: string): void {
  let names = deps.get(jd);
  if (!names) deps.set(jd, (names = []));
  names.push(name);
}
