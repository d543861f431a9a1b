// What the layers report each time they compile code, so that an invoke can say which bodies
// it compiled and how long that took, and metrics can count compiles.

export interface CompileEvent {
  readonly dylib: string;
  /** Names of the function bodies compiled, in the order they were compiled. */
  readonly names: readonly string[];
  readonly kind: 'body' | 'globals' | 'module';
  readonly ms: number;
}

export type CompileObserver = (event: CompileEvent) => void;
