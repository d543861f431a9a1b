// What Linux's /proc says about another process: its resident set (and its descendants'), and
// its worker threads.
// The bench reads the real server process from outside, as an operator would, rather than
// asking the server about itself. Node names every worker thread after its Worker's `name`
// option ("WorkerThread" when none is given), so worker threads can be told from V8's and
// libuv's own threads by name.

import { readdirSync, readFileSync } from 'node:fs';

export class ProcStatsError extends Error {
  override name = 'ProcStatsError';
}

function status(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch (err) {
    throw new ProcStatsError(`cannot read /proc/${pid}/status (Linux only; is the process running?): ${String(err)}`);
  }
}

function kib(text: string, field: string, pid: number): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(text);
  if (!m?.[1]) throw new ProcStatsError(`/proc/${pid}/status has no ${field}`);
  return Number(m[1]);
}

/** Resident set size now, in MB (2^20 bytes). */
export function rssMb(pid: number): number {
  return kib(status(pid), 'VmRSS', pid) / 1024;
}

/** Processes whose parent is `pid`, and theirs, and so on (a process that exits meanwhile is skipped). */
export function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The command name, in parentheses, may hold spaces and parentheses: read after the last ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parentOf.set(Number(entry), ppid);
    } catch {
      // Gone between the listing and the read.
    }
  }
  const found: number[] = [];
  let frontier = [pid];
  while (frontier.length > 0) {
    const next = [...parentOf].filter(([, ppid]) => frontier.includes(ppid)).map(([child]) => child);
    found.push(...next);
    frontier = next;
  }
  return found;
}

/** Clock ticks per second of /proc's CPU times (USER_HZ, 100 on the Linux builds Node runs on). */
const TICKS_PER_SECOND = 100;

/** CPU time (user + system) `pid` has used so far, all its threads together, in ms. */
export function cpuMs(pid: number): number {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (err) {
    throw new ProcStatsError(`cannot read /proc/${pid}/stat (Linux only; is the process running?): ${String(err)}`);
  }
  // utime and stime are fields 14 and 15; the command name before them may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
}

/** CPU time of `pid` and of its descendants alive now, in ms. */
export function treeCpuMs(pid: number): number {
  let total = cpuMs(pid);
  for (const child of descendants(pid)) {
    try {
      total += cpuMs(child);
    } catch {
      // Exited meanwhile.
    }
  }
  return total;
}

/** Resident set of `pid` and all its descendants, in MB (shared pages counted once per process). */
export function treeRssMb(pid: number): number {
  return rssMb(pid) + descendantsRssMb(pid);
}

/** Resident set of `pid`'s descendants alone, in MB: with one reading of `pid`'s own, a tree's size read at one moment. */
export function descendantsRssMb(pid: number): number {
  let total = 0;
  for (const child of descendants(pid)) {
    try {
      total += rssMb(child);
    } catch {
      // Exited meanwhile.
    }
  }
  return total;
}

/** Peak resident set size so far, in MB. */
export function peakRssMb(pid: number): number {
  return kib(status(pid), 'VmHWM', pid) / 1024;
}

/** The process's threads by name (a thread that exits while this reads is skipped). */
export function threadNames(pid: number): string[] {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch (err) {
    throw new ProcStatsError(`cannot list /proc/${pid}/task: ${String(err)}`);
  }
  const names: string[] = [];
  for (const task of tasks) {
    try {
      names.push(readFileSync(`/proc/${pid}/task/${task}/comm`, 'utf8').trim());
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return names;
}

/** Threads running a Worker that was given no name: the executor and the compile thread here. */
export function unnamedWorkerThreads(pid: number): number {
  return threadNames(pid).filter((n) => n === 'WorkerThread').length;
}
