// Shared pieces of the generated glue modules: the module-name prefix that marks their frames
// in stack traces (so trap stacks list only user functions), and the instruction sequences that
// move a value between its real wasm type and its raw-bits form (see rawValues.ts).

import type { ValType } from '../wasm/types.ts';
import { Op, SimdOp, type Code } from './wasmEncoder.ts';

/** Every generated module's name starts with this; V8 prints it in the frame's URL. */
export const GLUE_MODULE_PREFIX = '__executor_';

/** Pushes the value of type `t` held in local `local` as its raw form (one or two values). */
export function pushRawFromLocal(code: Code, t: ValType, local: number): void {
  switch (t) {
    case 'f32':
      code.localGet(local).op(Op.i32ReinterpretF32);
      return;
    case 'f64':
      code.localGet(local).op(Op.i64ReinterpretF64);
      return;
    case 'v128':
      code.localGet(local).simd(SimdOp.i64x2ExtractLane, 0);
      code.localGet(local).simd(SimdOp.i64x2ExtractLane, 1);
      return;
    default:
      code.localGet(local);
  }
}

/** Pushes a value of type `t` rebuilt from its raw form in locals starting at `local`. */
export function pushRealFromRawLocals(code: Code, t: ValType, local: number): void {
  switch (t) {
    case 'f32':
      code.localGet(local).op(Op.f32ReinterpretI32);
      return;
    case 'f64':
      code.localGet(local).op(Op.f64ReinterpretI64);
      return;
    case 'v128':
      code.localGet(local).simd(SimdOp.i64x2Splat);
      code.localGet(local + 1).simd(SimdOp.i64x2ReplaceLane, 1);
      return;
    default:
      code.localGet(local);
  }
}
