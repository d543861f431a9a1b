// The seam between the spec-script runner and whatever executes the modules: Node's own engine
// (DirectTarget), or the JIT service run lazily or eagerly. The runner only ever talks to a
// target through this interface, so a new target needs no change to the runner.

import type { WasmValue } from '../../src/wasm/types.ts';

/**
 * What addModule returns and the other methods take back. The runner never looks inside it;
 * each target picks its own representation (the type parameter of SpecTarget).
 */
export type ModuleHandle = unknown;

export type ErrorKind = 'trap' | 'exhaustion' | 'link' | 'invalid' | 'other';

export interface ClassifiedError {
  readonly kind: ErrorKind;
  readonly message: string;
}

export interface SpecTarget<Handle = ModuleHandle> {
  /** Instantiates a module (the .wasm bytes wast2json wrote); `name` is the script's $name if any. Returns a handle or throws. */
  addModule(bytes: Uint8Array, name: string | undefined): Promise<Handle>;
  /** `register "as"`: exports of the module become importable under module name `as`. */
  register(module: Handle, as: string): Promise<void>;
  /** Calls an exported function; throws on trap or stack exhaustion. */
  invoke(module: Handle, field: string, args: readonly WasmValue[]): Promise<readonly WasmValue[]>;
  /** Reads an exported global. */
  get(module: Handle, field: string): Promise<WasmValue>;
  /** Classifies an error thrown by the target: 'trap' (with message), 'exhaustion', 'link' (unlinkable), 'invalid' (did not validate/decode), or 'other'. */
  classify(err: unknown): ClassifiedError;
  close(): Promise<void>;
}

/**
 * Thrown by a target for a command it cannot represent at all (Node's JS API cannot carry a
 * v128 across the boundary, for instance). The runner counts the command as skipped rather
 * than failed, so a target's known blind spots do not drown its real failures.
 */
export class SpecSkip extends Error {
  override readonly name = 'SpecSkip';
}

/** Creates a fresh target; the runner makes one per script and closes it afterwards. */
export type TargetFactory = () => Promise<SpecTarget>;
