// What the layers report each time they compile code, so that an invoke can say which bodies
// it compiled and how long that took, and metrics can count compiles.

export interface CompileEvent {
  readonly dylib: string;
  /** Names of the function bodies compiled, in the order they were compiled. */
  readonly names: readonly string[];
  /** `reoptimize`: a hot function's optimized tier (its name is listed as "f (optimized)"). */
  readonly kind: 'body' | 'globals' | 'module' | 'reoptimize';
  readonly ms: number;
}

export type CompileObserver = (event: CompileEvent) => void;
