// Test fixtures for the ORC core, after LLVM's OrcTestCommon: a unit whose materialize and
// discard are callbacks, and a few absolute symbols.

import { ExecutionSession } from '../../src/core/ExecutionSession.ts';
import type { JITDylib } from '../../src/core/JITDylib.ts';
import type { MaterializationResponsibility } from '../../src/core/MaterializationResponsibility.ts';
import { MaterializationUnit } from '../../src/core/MaterializationUnit.ts';
import type { SymbolInterface } from '../../src/core/SymbolDefinition.ts';
import { JITSymbolFlags } from '../../src/core/SymbolFlags.ts';
import type { AbsoluteSymbol } from '../../src/core/AbsoluteSymbols.ts';

export const exported = JITSymbolFlags.ExportedCallable;
export const hidden = JITSymbolFlags.of('Callable');
export const weak = JITSymbolFlags.of('Exported', 'Callable', 'Weak');

export function iface(flags: JITSymbolFlags = exported): SymbolInterface {
  return { flags, kind: 'function' };
}

export function abs(address: number, flags: JITSymbolFlags = exported): AbsoluteSymbol {
  return { address, flags, kind: 'function' };
}

export class SimpleMaterializationUnit extends MaterializationUnit {
  private readonly onMaterialize: (r: MaterializationResponsibility) => void | Promise<void>;
  private readonly onDiscard: ((jd: JITDylib, name: string) => void) | undefined;

  constructor(
    symbols: Record<string, JITSymbolFlags>,
    onMaterialize: (r: MaterializationResponsibility) => void | Promise<void>,
    onDiscard?: (jd: JITDylib, name: string) => void,
  ) {
    super(new Map(Object.entries(symbols).map(([n, f]) => [n, iface(f)])));
    this.onMaterialize = onMaterialize;
    this.onDiscard = onDiscard;
  }

  get name(): string {
    return '<Simple>';
  }

  materialize(r: MaterializationResponsibility) {
    return this.onMaterialize(r);
  }

  protected override discard(jd: JITDylib, name: string): void {
    this.onDiscard?.(jd, name);
  }
}

/** A unit that parks its responsibility so the test drives it by hand. */
export function parkedUnit(symbols: Record<string, JITSymbolFlags>) {
  const parked: { r?: MaterializationResponsibility; count: number } = { count: 0 };
  const unit = new SimpleMaterializationUnit(symbols, (r) => {
    parked.r = r;
    parked.count++;
  });
  return { unit, parked };
}

export function resolveOne(r: MaterializationResponsibility | undefined, name: string, address: number, flags = exported) {
  if (!r) throw new Error(`no responsibility for ${name}`);
  r.notifyResolved(new Map([[name, { address, flags }]]));
}

/** Lets queued materializations and promise callbacks run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export function setup() {
  const es = new ExecutionSession();
  const jd = es.createJITDylib('JD');
  return { es, jd };
}

/** Tracks a promise's outcome without awaiting it. */
export function track<T>(p: Promise<T>) {
  const s: { done: boolean; value?: T; error?: unknown } = { done: false };
  p.then(
    (v) => Object.assign(s, { done: true, value: v }),
    (e: unknown) => Object.assign(s, { done: true, error: e }),
  );
  return s;
}
