// IndirectStubsManager + LazyCallThroughManager in one generated module. For every stub spec it
// defines two functions of the stub's signature:
//   stub:        forward the params through the pointer slot (a tail call_indirect);
//   trampoline:  call the host's resolve(callThroughId), which materializes the body and
//                repoints the slot, then forward through the same slot.
// The stub goes at stubAddr, the trampoline at ptrAddr, so the first call runs the trampoline
// and every later call goes straight to the body (`updatePointer` is a table.set).

import { GLUE_MODULE_PREFIX } from './glue.ts';
import type { StubSpec } from './protocol.ts';
import { Code, ModuleEncoder } from './wasmEncoder.ts';

/** Export names of the i-th stub and trampoline in the generated module. */
export function stubExportName(i: number): string {
  return `s${i}`;
}
export function trampolineExportName(i: number): string {
  return `t${i}`;
}

/** Bytes of a module importing `env.table` and `env.resolve`, exporting `s<i>` and `t<i>`. */
export function buildStubModule(stubs: readonly StubSpec[]): Uint8Array {
  const m = new ModuleEncoder();
  m.setModuleName(`${GLUE_MODULE_PREFIX}stubs`);
  m.importTable('env', 'table', 'funcref', 0);
  const resolve = m.importFunc('env', 'resolve', { params: ['i32'], results: [] });

  stubs.forEach((s, i) => {
    const typeIdx = m.type(s.type);
    const forward = (code: Code): Code => {
      s.type.params.forEach((_, p) => code.localGet(p));
      // A tail call leaves no stub frame behind: deep recursion through stubs costs no extra
      // stack, and trap stacks show only user functions.
      return code.i32Const(s.ptrAddr).returnCallIndirect(typeIdx, 0);
    };
    // No per-function names: glue frames are recognized by the module name alone, and a large
    // lazy module makes tens of thousands of stubs at once.
    const stub = m.addFunc(s.type, forward(new Code()));
    const trampoline = m.addFunc(s.type, forward(new Code().i32Const(s.callThroughId).call(resolve)));
    m.exportFunc(stubExportName(i), stub);
    m.exportFunc(trampolineExportName(i), trampoline);
  });
  return m.encode();
}
