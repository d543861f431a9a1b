// Symbol flags and states, as in ORC's JITSymbolFlags and SymbolState.
//
// Flags say what kind of definition a symbol is (visible to other dylibs or not, code or
// data, overridable or not); the state says how far its materialization has come. A symbol
// moves NeverSearched → Materializing → Resolved → Emitted → Ready and never back, except
// that a unit handing a symbol back unmaterialized (replace) returns it to NeverSearched.

export const SymbolState = {
  NeverSearched: 0,
  Materializing: 1,
  Resolved: 2,
  Emitted: 3,
  Ready: 4,
} as const;
export type SymbolState = (typeof SymbolState)[keyof typeof SymbolState];

const stateNames = ['NeverSearched', 'Materializing', 'Resolved', 'Emitted', 'Ready'] as const;
export type SymbolStateName = (typeof stateNames)[number];

export function symbolStateName(state: SymbolState): SymbolStateName {
  return stateNames[state] as SymbolStateName;
}

const FlagBits = {
  HasError: 1 << 0,
  Weak: 1 << 1,
  Absolute: 1 << 2,
  Exported: 1 << 3,
  Callable: 1 << 4,
  MaterializationSideEffectsOnly: 1 << 5,
} as const;
export type SymbolFlagName = keyof typeof FlagBits;

/** An immutable set of symbol flags. */
export class JITSymbolFlags {
  readonly bits: number;

  private constructor(bits: number) {
    this.bits = bits;
  }

  static of(...names: SymbolFlagName[]): JITSymbolFlags {
    let bits = 0;
    for (const n of names) bits |= FlagBits[n];
    return new JITSymbolFlags(bits);
  }

  static readonly None = new JITSymbolFlags(0);
  /** What an exported wasm function gets. */
  static readonly ExportedCallable = JITSymbolFlags.of('Exported', 'Callable');

  has(name: SymbolFlagName): boolean {
    return (this.bits & FlagBits[name]) !== 0;
  }
  with(name: SymbolFlagName): JITSymbolFlags {
    return new JITSymbolFlags(this.bits | FlagBits[name]);
  }
  without(name: SymbolFlagName): JITSymbolFlags {
    return new JITSymbolFlags(this.bits & ~FlagBits[name]);
  }

  get isExported(): boolean {
    return this.has('Exported');
  }
  get isCallable(): boolean {
    return this.has('Callable');
  }
  get isWeak(): boolean {
    return this.has('Weak');
  }
  get isStrong(): boolean {
    return !this.has('Weak');
  }
  get hasError(): boolean {
    return this.has('HasError');
  }

  names(): SymbolFlagName[] {
    return (Object.keys(FlagBits) as SymbolFlagName[]).filter((n) => this.has(n));
  }

  toString(): string {
    const n = this.names();
    return n.length === 0 ? 'None' : n.join('|');
  }
}
