// The optimizer thread's jobs (run by a piscina pool, see OptimizingCompiler.ts): binaryen's
// work, bytes in and bytes out. Errors cross back as plain data, since an Error's class does
// not survive the trip between threads.

import { InvalidModule } from '../core/errors.ts';
import { optimizeBinary, watToBinary, type OptimizeOptions } from '../wasm/optimizing.ts';

export type JobResult =
  | { readonly ok: true; readonly bytes: Uint8Array }
  | { readonly ok: false; readonly kind: 'InvalidModule'; readonly message: string; readonly diagnostics: readonly string[] }
  | { readonly ok: false; readonly kind: 'Error'; readonly message: string };

function run(job: () => Uint8Array): JobResult {
  try {
    return { ok: true, bytes: job() };
  } catch (e) {
    if (e instanceof InvalidModule) return { ok: false, kind: 'InvalidModule', message: e.message, diagnostics: [...e.diagnostics] };
    return { ok: false, kind: 'Error', message: e instanceof Error ? e.message : String(e) };
  }
}

export function wat({ text }: { text: string }): JobResult {
  return run(() => watToBinary(text));
}

export function optimize({ bytes, options }: { bytes: Uint8Array; options: OptimizeOptions }): JobResult {
  return run(() => optimizeBinary(bytes, options));
}

/** Answers once the thread is up: importing this file loaded binaryen (the startup a call is not charged for). */
export function ready(): JobResult {
  return { ok: true, bytes: new Uint8Array(0) };
}
