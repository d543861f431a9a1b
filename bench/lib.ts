// Helpers shared by the benchmark scripts.

import http from 'node:http';
import autocannon, { type Result as CannonResult } from 'autocannon';

/** One line of the results table: A measured against B, the value, its goal and verdict (null: no goal). */
export interface BenchRow {
  id: string;
  what: string;
  a: string;
  b: string;
  value: number;
  unit: string;
  goal: string;
  pass: boolean | null;
  note?: string;
}

/** Where a section puts its rows, the problems it met and its raw samples. */
export interface BenchSink {
  row(r: BenchRow): void;
  problem(message: string): void;
  readonly raw: Record<string, unknown>;
}

export const QUICK = process.env.BENCH_QUICK === '1';

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] as number;
}

export const now = () => performance.now();

export function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) {
    g();
    g();
  }
}

export interface Reply {
  status: number;
  body: string;
}

/** One HTTP request on a keep-alive agent; resolves with status and body. */
export function request(agent: http.Agent, port: number, method: string, path: string, body?: Uint8Array | string, contentType = 'application/json'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method, path, agent, headers: body !== undefined ? { 'content-type': contentType, 'content-length': Buffer.byteLength(body) } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

export async function expectOk(p: Promise<Reply>, what: string): Promise<Reply> {
  const r = await p;
  if (r.status < 200 || r.status >= 300) throw new Error(`${what}: HTTP ${r.status} ${r.body.slice(0, 300)}`);
  return r;
}

/** A number for the table: three significant-ish digits, whole numbers from 100 up (and counts as they are). */
export const fmt = (x: number): string =>
  !Number.isFinite(x) || Number.isInteger(x) ? String(x) : Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(3);

/**
 * Section 5's load: 10 connections posting `add(2, 3)` invokes to `/dylibs/bench/symbols/add/invoke`
 * on `port` for `seconds` (the JIT server, the bare route and the hop servers answer the same URL).
 */
export function invokeLoad(port: number, seconds: number): Promise<CannonResult> {
  return autocannon({
    url: `http://127.0.0.1:${port}/dylibs/bench/symbols/add/invoke`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ args: [2, 3] }),
    connections: 10,
    duration: seconds,
  });
}
