// The `spectest` host module the scripts import from, built from JS API objects: print
// functions, four constant globals, a funcref table and a memory, with the limits the
// reference interpreter gives them. A fresh one per target, because scripts mutate the table
// and memory and must not see each other's changes.

import { wasmApi } from './jsApi.ts';

export function makeSpectest(output: string[]): Record<string, unknown> {
  const print = (name: string) => (...args: unknown[]) => {
    // Capped: a print inside a long loop must not grow memory without bound.
    if (output.length < 10_000) output.push(`${name}(${args.map(String).join(', ')})`);
  };
  return {
    print: print('print'),
    print_i32: print('print_i32'),
    print_i64: print('print_i64'),
    print_f32: print('print_f32'),
    print_f64: print('print_f64'),
    print_i32_f32: print('print_i32_f32'),
    print_f64_f64: print('print_f64_f64'),
    global_i32: new wasmApi.Global({ value: 'i32', mutable: false }, 666),
    global_i64: new wasmApi.Global({ value: 'i64', mutable: false }, 666n),
    global_f32: new wasmApi.Global({ value: 'f32', mutable: false }, 666.6),
    global_f64: new wasmApi.Global({ value: 'f64', mutable: false }, 666.6),
    table: new wasmApi.Table({ element: 'anyfunc', initial: 10, maximum: 20 }),
    memory: new wasmApi.Memory({ initial: 1, maximum: 2 }),
  };
}
