// What a real-module workload is written against: a Target calls exports, reads and writes
// linear memory and reads globals, by dylib and symbol name as the HTTP API names them. The
// service run implements it with HTTP requests (service.ts), the direct run with the
// WebAssembly JS API (direct.ts), so one workload function drives both. Also the shape of a
// benchmark module: the packages and host modules it links, and its workload.

/** A JSON value: what a workload reports, compared between the two runs. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

export interface Target {
  /** Calls an exported function with i32 arguments; its i32 result (signed), if it has one. */
  invoke(dylib: string, symbol: string, args?: readonly number[]): Promise<number | undefined>;
  readMemory(dylib: string, memory: string, offset: number, length: number): Promise<Uint8Array>;
  writeMemory(dylib: string, memory: string, offset: number, bytes: Uint8Array): Promise<void>;
  /** An exported i32 global's current value (signed). */
  readGlobal(dylib: string, name: string): Promise<number>;
}

export interface DylibSpec {
  readonly name: string;
  /** Defaults to the dylib alone. */
  readonly linkOrder?: readonly string[];
}

export interface ModuleAdd {
  readonly dylib: string;
  /** The module's name in the service (the `name` query parameter). */
  readonly name: string;
  readonly bytes: Uint8Array;
}

/** Dylibs to create, then modules to add, each in order. */
export interface Setup {
  readonly dylibs: readonly DylibSpec[];
  readonly modules: readonly ModuleAdd[];
}

export interface WorkloadOutcome {
  /** What both runs must agree on. */
  readonly result: Json;
  /** Disagreements with an oracle outside the module (node:crypto, values computed in JS): empty when none. */
  readonly problems: readonly string[];
}

export interface RealModule {
  /** Short name, used in row ids and on the direct child's command line. */
  readonly id: string;
  /** The package, version and toolchain, for the table. */
  readonly title: string;
  /** The workload in a few words, for the table. */
  describe(quick: boolean): string;
  /** Loads the bytes (fetching the package into the cache if needed). */
  setup(): Setup;
  run(target: Target, quick: boolean): Promise<WorkloadOutcome>;
}

export class WorkloadError extends Error {
  override name = 'WorkloadError';
}

/** Reads a NUL-terminated string from at most `max` bytes at `ptr`. */
export async function readCString(t: Target, dylib: string, memory: string, ptr: number, max = 4096): Promise<string> {
  const bytes = await t.readMemory(dylib, memory, ptr, max);
  const end = bytes.indexOf(0);
  if (end < 0) throw new WorkloadError(`no NUL within ${max} bytes of ${ptr} in ${dylib}'s ${memory}`);
  return new TextDecoder().decode(bytes.subarray(0, end));
}

export async function readI32(t: Target, dylib: string, memory: string, ptr: number): Promise<number> {
  const b = await t.readMemory(dylib, memory, ptr, 4);
  return new DataView(b.buffer, b.byteOffset, 4).getInt32(0, true);
}

/** A call whose result the workload needs: fails with the call named when it returns nothing. */
export async function invokeI32(t: Target, dylib: string, symbol: string, args: readonly number[] = []): Promise<number> {
  const r = await t.invoke(dylib, symbol, args);
  if (r === undefined) throw new WorkloadError(`${dylib}.${symbol}(${args.join(', ')}) returned no value`);
  return r;
}
