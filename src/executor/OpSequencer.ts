// Worker side: decides WHEN each link op is applied. Normally that is on arrival, in send order.
// The exception is nesting: an instantiate whose start function calls a stub blocks inside a
// call-through, and the ops main sends meanwhile must be applied before the start function can
// go on. Some of those ops, though, depend on the instantiate still in progress (e.g. the JIT
// posts "instantiate body" then "updatePointer to body", and the body's own start function is
// what is running): applying them now would find the body's address still empty.
//
// Rule: an op that touches (defines or uses) an address that an in-progress instantiate will
// define, or an address touched by an op already held back, is held back; so is a start function
// (runStart) while another op runs user code: start functions run in the order their modules
// were added, never one inside another (a replay after a restart posts every op at once, and a
// start function's call-through would otherwise run the next module's start first). Main never
// waits on a start function while another is blocked: a module with a start function is
// instantiated at its add, and adds of a session are one at a time. Every other op is applied
// at once. Held-back ops are applied, in send order, as soon as what blocks them has
// completed. So dependent ops keep their send order and independent ones can overtake, which is
// exactly what lets a start function's call-through finish.

import { HOOK_ADDRESS_SET } from './hooks.ts';
import type { ExecutorAddr, LinkOp } from './protocol.ts';

function touches(op: LinkOp): ExecutorAddr[] {
  switch (op.op) {
    case 'instantiate':
      // The executor's hooks are imported by many pieces but defined by no op: they order nothing.
      return [...op.exports.map((e) => e.addr), ...op.imports.map((i) => i.addr).filter((a) => !HOOK_ADDRESS_SET.has(a))];
    case 'createStubs':
      return op.stubs.flatMap((s) => [s.stubAddr, s.ptrAddr]);
    case 'updatePointer':
      return [op.ptrAddr, op.targetAddr];
    case 'createMemory':
    case 'runStart':
      return [op.addr];
    case 'release':
      return [...op.addrs];
  }
}

export class OpSequencer {
  private readonly apply: (op: LinkOp) => void;
  /** Addresses each in-progress instantiate will define, innermost last. */
  private readonly inProgress: ExecutorAddr[][] = [];
  private readonly held: LinkOp[] = [];

  /** `apply` applies one op completely and reports its result; it must not throw. */
  constructor(apply: (op: LinkOp) => void) {
    this.apply = apply;
  }

  get heldCount(): number {
    return this.held.length;
  }

  submit(op: LinkOp): void {
    if (this.blocked(op, this.held)) this.held.push(op);
    else this.run(op);
  }

  private run(op: LinkOp): void {
    // Only ops running a start function can nest (it may reach a call-through).
    const nests = op.op === 'instantiate' || op.op === 'runStart';
    if (nests) this.inProgress.push(op.op === 'instantiate' ? op.exports.map((e) => e.addr) : []);
    try {
      this.apply(op);
    } finally {
      if (nests) this.inProgress.pop();
    }
    if (nests) this.release();
  }

  /** Applies held ops that nothing blocks any more, earliest first, until none can go. */
  private release(): void {
    for (;;) {
      const i = this.held.findIndex((op, at) => !this.blocked(op, this.held.slice(0, at)));
      if (i < 0) return;
      const [op] = this.held.splice(i, 1);
      if (op !== undefined) this.run(op);
    }
  }

  private blocked(op: LinkOp, earlier: readonly LinkOp[]): boolean {
    if (this.inProgress.length === 0 && earlier.length === 0) return false;
    if (op.op === 'runStart' && (this.inProgress.length > 0 || earlier.some((e) => e.op === 'runStart'))) return true;
    const busy = new Set<ExecutorAddr>(this.inProgress.flat());
    for (const e of earlier) for (const a of touches(e)) busy.add(a);
    return touches(op).some((a) => busy.has(a));
  }
}
