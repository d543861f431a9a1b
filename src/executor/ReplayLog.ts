// Main side: every link op that is pending or has been applied, so a fresh worker can be
// brought to the same state after the old one was terminated (time limit) or died (memory).
// Replaying re-creates instances (memories and globals start from their post-instantiation
// state, start functions run again: runStart is an op like any other); compiled
// WebAssembly.Modules are reused.
//
// Compaction (on each applied release): an applied op stays only if it still defines a live
// address, is pending, or something kept depends on it (imports from it, or an updatePointer
// copies from it). An applied op that defines nothing (an instantiate whose instance exports
// nothing the session sees, such as an empty globals module, or a runStart) exists only for
// what it did to the entities it uses (segments, start function): it stays while
// anything it imports, directly or through what those import in turn, is kept or is a host
// entity the log does not place; once all of that is gone its effects can no longer be
// observed. A release op stays only for addresses whose definer stays.

import { DATA_HANDLE_BASE, type ExecutorAddr, type LinkOp } from './protocol.ts';

interface Entry {
  op: LinkOp;
  applied: boolean;
}

function defines(op: LinkOp): ExecutorAddr[] {
  switch (op.op) {
    case 'instantiate':
      return op.exports.map((e) => e.addr);
    case 'createStubs':
      return op.stubs.flatMap((s) => [s.stubAddr, s.ptrAddr]);
    case 'updatePointer':
      return [op.ptrAddr];
    case 'createMemory':
      return [op.addr];
    case 'runStart':
    case 'release':
      return [];
  }
}

function uses(op: LinkOp): ExecutorAddr[] {
  switch (op.op) {
    case 'instantiate':
      return op.imports.map((i) => i.addr);
    case 'updatePointer':
      return [op.targetAddr];
    case 'runStart':
      return [op.addr];
    default:
      return [];
  }
}

export class ReplayLog {
  private readonly entries = new Map<number, Entry>();

  get size(): number {
    return this.entries.size;
  }

  add(op: LinkOp): void {
    this.entries.set(op.seq, { op, applied: false });
  }

  has(seq: number): boolean {
    return this.entries.has(seq);
  }

  markApplied(seq: number): void {
    const e = this.entries.get(seq);
    if (e === undefined) return;
    e.applied = true;
    if (e.op.op === 'release') this.compact();
  }

  remove(seq: number): void {
    this.entries.delete(seq);
  }

  /** All ops in send order: what a fresh worker must apply. */
  ops(): LinkOp[] {
    return this.sorted().map((e) => e.op);
  }

  /** Function addresses currently defined by the log's ops (a slot count for stats). */
  liveFunctionAddrs(): number {
    let n = 0;
    for (const addr of this.definers().keys()) if (addr < DATA_HANDLE_BASE) n++;
    return n;
  }

  private sorted(): Entry[] {
    return [...this.entries.values()].sort((a, b) => a.op.seq - b.op.seq);
  }

  private definers(): Map<ExecutorAddr, Entry> {
    const definer = new Map<ExecutorAddr, Entry>();
    for (const e of this.sorted()) {
      if (e.op.op === 'release') for (const a of e.op.addrs) definer.delete(a);
      else for (const a of defines(e.op)) definer.set(a, e);
    }
    return definer;
  }

  private compact(): void {
    // Walk in send order, tracking every entry that placed something at each address since the
    // address was last released (a later definer does not erase what an earlier one placed, as
    // far as a release is concerned: a release must still undo the earlier one if it is kept).
    const placers = new Map<ExecutorAddr, Entry[]>();
    const deps = new Map<Entry, Entry[]>();
    /** Entries importing an address no op in the log placed (a host entity of the worker). */
    const usesHost = new Set<Entry>();
    const undone = new Map<Entry, { addr: ExecutorAddr; by: Entry[] }[]>();
    const all = this.sorted();
    for (const e of all) {
      if (e.op.op === 'release') {
        undone.set(
          e,
          e.op.addrs.map((addr) => ({ addr, by: placers.get(addr) ?? [] })),
        );
        for (const a of e.op.addrs) placers.delete(a);
        continue;
      }
      const ds: Entry[] = [];
      for (const u of uses(e.op)) {
        const current = placers.get(u);
        const d = current?.[current.length - 1];
        if (d !== undefined) ds.push(d);
        else usesHost.add(e);
      }
      deps.set(e, ds);
      for (const a of defines(e.op)) {
        const list = placers.get(a);
        if (list === undefined) placers.set(a, [e]);
        else list.push(e);
      }
    }

    const keep = new Set<Entry>();
    const stack: Entry[] = [];
    const mark = (e: Entry): void => {
      if (!keep.has(e)) {
        keep.add(e);
        stack.push(e);
      }
    };
    const propagate = (): void => {
      while (stack.length > 0) for (const d of deps.get(stack.pop() as Entry) ?? []) mark(d);
    };
    const effectOnly: Entry[] = [];
    for (const e of all) {
      if (e.op.op === 'release') continue;
      if (!e.applied) mark(e);
      else if (defines(e.op).length === 0) effectOnly.push(e);
    }
    // Roots: the current (last) definer of every live address.
    for (const list of placers.values()) {
      const last = list[list.length - 1];
      if (last !== undefined) mark(last);
    }
    propagate();
    // Ops kept only for their instantiation's effects: kept while what they reach is.
    const reaches = (from: Entry): boolean => {
      const seen = new Set<Entry>();
      const todo = [from];
      while (todo.length > 0) {
        const e = todo.pop() as Entry;
        if (seen.has(e)) continue;
        seen.add(e);
        if (usesHost.has(e) || (e !== from && keep.has(e))) return true;
        todo.push(...(deps.get(e) ?? []));
      }
      return false;
    };
    for (let changed = true; changed; ) {
      changed = false;
      for (const e of effectOnly) {
        if (keep.has(e) || !reaches(e)) continue;
        mark(e);
        propagate();
        changed = true;
      }
    }

    for (const e of all) {
      if (e.op.op === 'release') {
        if (!e.applied) continue;
        const still = (undone.get(e) ?? []).filter((u) => u.by.some((b) => keep.has(b))).map((u) => u.addr);
        if (still.length === 0) this.entries.delete(e.op.seq);
        else if (still.length < e.op.addrs.length) e.op = { ...e.op, addrs: still };
      } else if (!keep.has(e)) {
        this.entries.delete(e.op.seq);
      }
    }
  }
}
