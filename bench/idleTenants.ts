// The memory a live idle tenant costs: the real server (src/server.ts, started as npm start does,
// with ADMIN_TOKEN) with N tenants whose executors run, each holding one small module that has
// been called once, then left idle. Reads the RSS and PSS of the executor host processes (the
// server's children) and of the server itself at N = 1, 10, 50 (BENCH_QUICK=1: 1, 5), and the
// cost of each additional live tenant from the first to the last N, then what is left once every
// executor has stopped after idling. Goal: at most 15 MB of host memory per live idle tenant.
// `node bench/idleTenants.ts` (EXECUTOR_PROCESSES as for the server, default 2). It starts the
// server through test/support/serverProcess.ts, the process tests' launcher.

import { readdirSync, readFileSync } from 'node:fs';
import { startServerProcess, type ServerProcess } from '../test/support/serverProcess.ts';
import { addModule } from './wasmgen.ts';
import { QUICK } from './lib.ts';

const TOKEN = 'bench-admin-token-0123456789';
const COUNTS = QUICK ? [1, 5] : [1, 10, 50];

interface Mem {
  readonly rssMb: number;
  readonly pssMb: number;
}

function memOf(pid: number): Mem {
  const roll = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(roll)?.[1] ?? NaN);
  return { rssMb: kb('Rss') / 1024, pssMb: kb('Pss') / 1024 };
}

function children(pid: number): number[] {
  const out: number[] = [];
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    const text = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
    if (text) out.push(...text.split(/\s+/).map(Number));
  }
  return out;
}

async function expectStatus(server: ServerProcess, method: string, path: string, json: unknown, status: number, headers: Record<string, string>): Promise<void> {
  const res = await server.request(method, path, json === undefined ? undefined : { json }, headers);
  if (res.status !== status) throw new Error(`${method} ${path}: ${res.status} ${res.text.slice(0, 300)}`);
}

/** A tenant with a dylib, a small module and one call: its executor is running. */
async function liveTenant(server: ServerProcess, name: string): Promise<void> {
  const admin = { authorization: `Bearer ${TOKEN}` };
  const inTenant = { ...admin, 'x-tenant': name };
  await expectStatus(server, 'POST', '/tenants', { name }, 201, admin);
  await expectStatus(server, 'POST', '/dylibs', { name: 'main' }, 201, inTenant);
  await expectStatus(server, 'POST', '/dylibs/main/modules', { wasm: Buffer.from(addModule()).toString('base64') }, 201, inTenant);
  await expectStatus(server, 'POST', '/dylibs/main/invoke', { symbol: 'add', args: [1, 2] }, 200, inTenant);
}

const f1 = (x: number) => x.toFixed(1);
const settle = () => new Promise((r) => setTimeout(r, 2000));

async function hostsMem(server: ServerProcess): Promise<{ hosts: number; mem: Mem }> {
  const pids = children(server.pid);
  const mem = pids.map(memOf).reduce((a, m) => ({ rssMb: a.rssMb + m.rssMb, pssMb: a.pssMb + m.pssMb }), { rssMb: 0, pssMb: 0 });
  return { hosts: pids.length, mem };
}

/** Whether every tenant's executor has stopped (GET /tenants: usage.live). */
async function allStopped(server: ServerProcess): Promise<boolean> {
  const res = await server.request<{ tenants: { usage: { live: boolean } }[] }>('GET', '/tenants', undefined, { authorization: `Bearer ${TOKEN}` });
  return res.json.tenants.every((x) => !x.usage.live);
}

const server = await startServerProcess(undefined, {
  env: { ADMIN_TOKEN: TOKEN, LOG_LEVEL: 'warn', SESSION_IDLE_MS: String(3_600_000), MAX_LIVE_SESSIONS: '1000' },
});
try {
  await settle();
  const serverBase = memOf(server.pid);
  console.log(`server alone: RSS ${f1(serverBase.rssMb)} MB, no host process yet (${children(server.pid).length})`);
  const rows: { n: number; hosts: number; host: Mem; server: Mem }[] = [];
  let made = 0;
  for (const n of COUNTS) {
    while (made < n) await liveTenant(server, `t${++made}`);
    await settle();
    const { hosts, mem: host } = await hostsMem(server);
    const main = memOf(server.pid);
    rows.push({ n, hosts, host, server: main });
    console.log(
      `${String(n).padStart(3)} live idle tenants: ${hosts} host processes, hosts RSS ${f1(host.rssMb)} MB ` +
        `(${f1(host.rssMb / n)} MB per tenant), PSS ${f1(host.pssMb)} MB; server RSS ${f1(main.rssMb)} MB`,
    );
  }
  // Each step's cost per added tenant; the first step also pays for starting the second host.
  const pairs = rows.slice(1).map((row, i) => [rows[i], row] as const);
  const whole = rows.length > 1 ? [[rows[0], rows[rows.length - 1]] as const] : [];
  for (const [a, b] of [...pairs, ...whole]) {
    if (!a || !b) continue;
    const d = b.n - a.n;
    console.log(
      `per additional live idle tenant (${a.n} -> ${b.n}): hosts RSS ${f1((b.host.rssMb - a.host.rssMb) / d)} MB, ` +
        `PSS ${f1((b.host.pssMb - a.host.pssMb) / d)} MB; server RSS ${f1((b.server.rssMb - a.server.rssMb) / d)} MB`,
    );
  }
  console.log('goal: at most 15 MB of host memory per live idle tenant');
} finally {
  await server.stop();
}

// What stopping idle executors gives back: the largest N again, on a server whose executors stop
// after a second of idleness, measured once every one of them has stopped.
const idle = await startServerProcess(undefined, { env: { ADMIN_TOKEN: TOKEN, LOG_LEVEL: 'warn', SESSION_IDLE_MS: '1000' } });
try {
  const n = COUNTS[COUNTS.length - 1] ?? 1;
  for (let i = 1; i <= n; i++) await liveTenant(idle, `t${i}`);
  const deadline = Date.now() + 60_000;
  while (!(await allStopped(idle)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
  await settle();
  const { hosts, mem } = await hostsMem(idle);
  console.log(`${n} tenants, every executor stopped after idling: ${hosts} host processes, hosts RSS ${f1(mem.rssMb)} MB, PSS ${f1(mem.pssMb)} MB`);
} finally {
  await idle.stop();
}
