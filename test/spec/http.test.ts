// Conformance over the wire: every spec script against the real server process (src/server.ts as
// `npm start` runs it), driven through HTTP the way an outside client would (HttpTarget), compared
// per assertion with direct instantiation on Node's own engine. Every assertion direct
// instantiation passes must pass over HTTP. One server for the scripts (each script's dylibs are
// removed when it ends), replaced only when a script leaves spectest's memory grown; the process
// must still be serving at the end.

import t from 'tap';
import { startServerProcess } from '../support/serverProcess.ts';
import { DirectTarget } from './DirectTarget.ts';
import { HttpTarget, spectestMemoryPages } from './HttpTarget.ts';
import { runScript, type ScriptResult } from './runner.ts';
import { findSpecDir, listScripts, specDirCandidate } from './specDir.ts';
import { formatKindTable, formatTable, sumCounts } from './table.ts';

const dir = findSpecDir();

t.test(
  'spec scripts over HTTP against the server process',
  { skip: dir === undefined ? `no spec scripts at ${specDirCandidate()} (set WASM_SPEC_DIR); skipping` : false },
  async (t) => {
    const start = () =>
      startServerProcess(t, {
        // The scripts' longest calls take seconds on a loaded machine; the default limit is 5 s.
        // Logging two lines per request costs the server about a third of its time here.
        env: { CALL_TIMEOUT_MS: '20000', MAX_CALL_TIMEOUT_MS: '20000', LOG_LEVEL: 'warn' },
      });
    let server = await start();
    let http = HttpTarget.factory(server);
    let restarts = 0;
    const scripts = listScripts(dir as string);
    const direct: ScriptResult[] = [];
    const overHttp: ScriptResult[] = [];
    const started = performance.now();
    let httpMs = 0;
    for (const script of scripts) {
      // A script that grew spectest's memory (imports.wast does) would show the next ones a
      // memory no fresh session has, and it cannot shrink: such a server is replaced.
      if ((await spectestMemoryPages(server)) !== 1) {
        t.equal(server.exitStatus, undefined, 'the server process being replaced was still running');
        await server.stop();
        server = await start();
        http = HttpTarget.factory(server);
        restarts++;
      }
      direct.push(await runScript(script, async () => new DirectTarget(), { maxFailures: 100_000 }));
      const r = await runScript(script, http, { maxFailures: 100_000 });
      httpMs += r.durationMs;
      overHttp.push(r);
      if (server.exitStatus !== undefined) break;
    }
    const wallMs = performance.now() - started;
    const totals = [
      ['direct', sumCounts(direct)],
      ['http', sumCounts(overHttp)],
    ] as const;
    t.comment(
      `\n${totals.map(([name, c]) => `${name.padEnd(7)} passed ${c.passed}  failed ${c.failed}  skipped ${c.skipped}`).join('\n')}` +
        `\nover HTTP: ${(httpMs / 1000).toFixed(1)} s of ${(wallMs / 1000).toFixed(1)} s; ${restarts} server restarts for a fresh spectest memory`,
    );

    t.equal(server.exitStatus, undefined, 'the server process is still running');
    t.equal(overHttp.length, scripts.length, 'every script ran');

    const regressions: string[] = [];
    overHttp.forEach((h, i) => {
      const d = direct[i] as ScriptResult;
      if (h.error) regressions.push(`${h.script}: ${h.error}`);
      const directFailed = new Set(d.failures.map((f) => f.line));
      for (const f of h.failures) {
        if (!directFailed.has(f.line)) regressions.push(`${h.script}:${f.line} ${f.command}: expected ${f.expected}, got ${f.got}`);
      }
    });
    t.same(regressions.slice(0, 50), [], `every assertion direct instantiation passes also passes over HTTP (${regressions.length} regressions)`);
    t.ok(sumCounts(overHttp).passed >= sumCounts(direct).passed, 'HTTP passes at least as many as direct');
    if (regressions.length > 0) t.comment(`over HTTP, per script:\n${formatTable(overHttp)}\n\n${formatKindTable(overHttp)}`);

    const left = await server.get<{ dylibs: { name: string }[] }>('/dylibs');
    t.same(
      left.json.dylibs.map((d) => d.name),
      ['spectest'],
      'every script removed its dylibs',
    );
    const health = await server.get('/health');
    t.equal(health.status, 200, 'and it still answers /health');
  },
);
