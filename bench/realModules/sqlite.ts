// SQLite from sql.js 1.17.0 (Emscripten): the module sql.js ships, driven through the C API
// exports its glue wraps (the minified names come from dist/sql-wasm.js of that version).
// Workload: open an in-memory database, create a table, insert rows in one transaction (one
// sqlite3_exec of the whole script), run an aggregate query through prepare/step/column_text,
// and get the error message of a query on a missing table.

import { watModule, type PackageFile, packageFile } from './packages.ts';
import { invokeI32, type Json, type RealModule, readCString, readI32, type Setup, type Target, WorkloadError } from './target.ts';

const PKG: PackageFile = {
  name: 'sql.js',
  version: '1.17.0',
  integrity: 'sha512-HNdo5+2eSTEm7iLcfXUd2mjZX3Oe+5mJ0uDgIpirS7gSLHhZIw9kWDWxNcDVeFGEIBxJlkgo525g0CZJoH8GgA==',
  file: 'dist/sql-wasm.wasm',
};

const DYLIB = 'sqlite';
/** Emscripten minified the import module's name to "a"; its dylib is named so. */
const HOST = 'a';
const MEMORY = 'O';

/** The exports used, by the C function sql-wasm.js 1.17.0 binds each to. */
const C = {
  ctors: 'P', // __wasm_call_ctors
  malloc: 'La',
  free: 'Ma',
  open: 'Ka', // sqlite3_open
  exec: 'X',
  prepare: 'U', // sqlite3_prepare_v2
  step: 'V',
  columnCount: 'sa',
  columnText: '_',
  columnBytes: 'va',
  finalize: 'Y',
  errmsg: 'aa',
  close: 'Ga', // sqlite3_close_v2
} as const;

const SQLITE_OK = 0;
const SQLITE_ERROR = 1;
const SQLITE_ROW = 100;

const rowsFor = (quick: boolean) => (quick ? 200 : 2000);
const name = (i: number) => `row ${i}`;
const score = (i: number) => ((i * 7) % 101) + 0.5;
const AGGREGATE = 'SELECT count(*), sum(score), max(name), total(length(name)) FROM t WHERE score > 50';
const MISSING = 'SELECT * FROM no_such_table';

function insertScript(rows: number): string {
  const parts = ['BEGIN;'];
  for (let i = 0; i < rows; i++) parts.push(`INSERT INTO t(name, score) VALUES ('${name(i)}', ${score(i)});`);
  parts.push('COMMIT;');
  return parts.join('\n');
}

/** The aggregate's columns computed in JS, as numbers (and the max name as text). */
function expectedAggregate(rows: number): [number, number, string, number] {
  let count = 0;
  let sum = 0;
  let max = '';
  let total = 0;
  for (let i = 0; i < rows; i++) {
    if (score(i) <= 50) continue;
    count++;
    sum += score(i);
    if (name(i) > max) max = name(i);
    total += name(i).length;
  }
  return [count, sum, max, total];
}

async function cString(t: Target, text: string): Promise<number> {
  const bytes = new TextEncoder().encode(`${text}\0`);
  const ptr = await invokeI32(t, DYLIB, C.malloc, [bytes.length]);
  if (ptr === 0) throw new WorkloadError(`malloc(${bytes.length}) failed`);
  await t.writeMemory(DYLIB, MEMORY, ptr, bytes);
  return ptr;
}

async function exec(t: Target, db: number, sql: string): Promise<number> {
  const ptr = await cString(t, sql);
  const rc = await invokeI32(t, DYLIB, C.exec, [db, ptr, 0, 0, 0]);
  await t.invoke(DYLIB, C.free, [ptr]);
  return rc;
}

async function run(t: Target, quick: boolean) {
  const rows = rowsFor(quick);
  const problems: string[] = [];
  const expectRc = (what: string, got: number, want: number) => {
    if (got !== want) throw new WorkloadError(`${what} returned ${got}, expected ${want}`);
  };
  await t.invoke(DYLIB, C.ctors);
  const slot = await invokeI32(t, DYLIB, C.malloc, [8]); // sqlite3** and sqlite3_stmt**
  expectRc('sqlite3_open(":memory:")', await invokeI32(t, DYLIB, C.open, [await cString(t, ':memory:'), slot]), SQLITE_OK);
  const db = await readI32(t, DYLIB, MEMORY, slot);
  expectRc('CREATE TABLE', await exec(t, db, 'CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL)'), SQLITE_OK);
  expectRc(`${rows} INSERTs`, await exec(t, db, insertScript(rows)), SQLITE_OK);

  const sql = await cString(t, AGGREGATE);
  expectRc('prepare', await invokeI32(t, DYLIB, C.prepare, [db, sql, -1, slot + 4, 0]), SQLITE_OK);
  const stmt = await readI32(t, DYLIB, MEMORY, slot + 4);
  expectRc('step', await invokeI32(t, DYLIB, C.step, [stmt]), SQLITE_ROW);
  const columns = await invokeI32(t, DYLIB, C.columnCount, [stmt]);
  const aggregate: string[] = [];
  for (let c = 0; c < columns; c++) {
    const text = await invokeI32(t, DYLIB, C.columnText, [stmt, c]);
    const length = await invokeI32(t, DYLIB, C.columnBytes, [stmt, c]);
    aggregate.push(new TextDecoder().decode(await t.readMemory(DYLIB, MEMORY, text, length)));
  }
  expectRc('finalize', await invokeI32(t, DYLIB, C.finalize, [stmt]), SQLITE_OK);

  const errorRc = await exec(t, db, MISSING);
  const message = await readCString(t, DYLIB, MEMORY, await invokeI32(t, DYLIB, C.errmsg, [db]));
  expectRc('sqlite3_close_v2', await invokeI32(t, DYLIB, C.close, [db]), SQLITE_OK);
  const stderrBytes = await t.readGlobal(HOST, 'written');

  const [count, sum, max, total] = expectedAggregate(rows);
  const [gotCount, gotSum, gotMax, gotTotal] = aggregate;
  if (aggregate.length !== 4 || Number(gotCount) !== count || Number(gotSum) !== sum || gotMax !== max || Number(gotTotal) !== total) {
    problems.push(`aggregate ${JSON.stringify(aggregate)}, expected ${JSON.stringify([count, sum, max, total])}`);
  }
  if (errorRc !== SQLITE_ERROR || message !== 'no such table: no_such_table') problems.push(`missing table gave ${errorRc} "${message}"`);
  const result: Json = { rows, aggregate, error: { rc: errorRc, message }, stderrBytes };
  return { result, problems };
}

export const sqlite: RealModule = {
  id: 'sqlite',
  title: `SQLite (${PKG.name} ${PKG.version}, Emscripten)`,
  describe: (quick) => `open :memory:, create, ${rowsFor(quick)} inserts, aggregate, error message`,
  setup(): Setup {
    return {
      dylibs: [{ name: HOST }, { name: DYLIB, linkOrder: [DYLIB, HOST] }],
      // SQLite first: the host module imports SQLite's memory from it; SQLite's calls into the
      // host resolve when they are first made.
      modules: [
        { dylib: DYLIB, name: 'sql-wasm', bytes: packageFile(PKG) },
        { dylib: HOST, name: 'sqljs-host', bytes: watModule('sqljs-a') },
      ],
    };
  },
  run,
};
