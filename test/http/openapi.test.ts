// The OpenAPI document as generators use it: it lints clean under redocly's recommended rules
// (with and without ADMIN_TOKEN), and a TypeScript client generated from it by openapi-typescript
// type-checks a program doing the README's walkthrough with openapi-fetch, which then runs against
// the real server. The same program with a nonsense argument or a misspelt error code must not
// type-check, so the generated types are what makes it compile.

import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import openapiTS, { astToString } from 'openapi-typescript';
import t, { type Test } from 'tap';
import ts from 'typescript';
import { pino } from 'pino';
import { buildServer } from '../../src/server.ts';
import { errorResponses } from '../../schemas/errors.ts';
import { call, json, makeService, testConfig } from './helper.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const REDOCLY = join(ROOT, 'node_modules/@redocly/cli/bin/cli.js');
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');
const ADMIN_TOKEN = 'admin-token-for-openapi-tests-0123456789';

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a node script with this test's Node (24) first on PATH, offline-friendly. */
function runNode(args: readonly string[], cwd: string, env: Record<string, string> = {}): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, args, {
      cwd,
      env: {
        ...process.env,
        PATH: `${dirname(process.execPath)}:${process.env['PATH'] ?? ''}`,
        // No telemetry, no update check: the lint runs offline.
        REDOCLY_TELEMETRY: 'off',
        REDOCLY_SDK_TELEMETRY: 'off',
        REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true',
        REDOCLY_SUPPRESS_NOTIFICATIONS: 'true',
        DO_NOT_TRACK: '1',
        ...env,
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

interface Operation {
  readonly operationId?: string;
  readonly requestBody?: { content: Record<string, { schema: Record<string, unknown> }> };
  readonly parameters?: { name: string; in: string; schema: Record<string, unknown> }[];
  readonly responses: Record<string, { description: string; content?: Record<string, { schema: ErrorSchema }> }>;
}
interface ErrorSchema {
  readonly properties?: { error?: { properties?: { code?: { enum?: string[] } } } };
}
interface Document {
  readonly servers?: { url: string }[];
  readonly paths: Record<string, Record<string, Operation>>;
  readonly components?: { schemas?: Record<string, unknown> };
}

/** The real server (helper.ts's build expects open mode's `default` tenant). */
async function buildApp(t: Test, adminToken: string | undefined) {
  const config = testConfig({ adminToken });
  const app = await buildServer({ config, service: await makeService(config), logger: pino({ level: 'silent' }) });
  t.teardown(() => app.close());
  await app.ready();
  return app;
}

async function fetchDocument(t: Test, adminToken: string | undefined): Promise<Document> {
  const app = await buildApp(t, adminToken);
  const res = await call(app, 'GET', '/docs/json', undefined, adminToken ? { authorization: `Bearer ${adminToken}` } : {});
  t.equal(res.statusCode, 200, 'the document is served');
  return json<Document>(res);
}

const operations = (doc: Document) => Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method, op })));

const codesOf = (op: Operation | undefined, status: string) =>
  op?.responses[status]?.content?.['application/json']?.schema.properties?.error?.properties?.code?.enum;

/**
 * The findings of the recommended rules the document keeps on purpose, each at its location: the
 * package is private and declares no license, so there is no license URL or SPDX identifier to
 * give; operations that take no input and (in open mode) need no credential have no 4XX answer
 * to document: /health always, and /metrics and GET /tenants without ADMIN_TOKEN.
 */
function ignored(authOn: boolean): string[] {
  const no4xx = authOn ? ['/health'] : ['/health', '/metrics', '/tenants'];
  return [
    'openapi.json:',
    '  info-license-strict:',
    "    - '#/info/license'",
    '  operation-4xx-response:',
    ...no4xx.map((p) => `    - '#/paths/${p.replaceAll('/', '~1')}/get/responses'`),
  ];
}

async function lint(t: Test, doc: Document, authOn: boolean): Promise<void> {
  const ignore = ignored(authOn);
  const dir = t.testdir({ 'openapi.json': JSON.stringify(doc), '.redocly.lint-ignore.yaml': ignore.join('\n') + '\n' });
  const run = await runNode([REDOCLY, 'lint', '--extends', 'recommended', '--format', 'json', 'openapi.json'], dir);
  const report = JSON.parse(run.stdout) as {
    totals: { errors: number; warnings: number; ignored: number };
    problems: { ruleId: string; severity: string; message: string; location: { pointer: string }[] }[];
  };
  const shown = report.problems.filter((p) => p.severity !== 'off' && !(p as { ignored?: boolean }).ignored);
  t.same(
    shown.map((p) => `${p.ruleId} ${p.location[0]?.pointer}: ${p.message}`),
    [],
    'no problem beyond those kept on purpose',
  );
  t.equal(report.totals.errors, 0, 'redocly: 0 errors');
  t.equal(report.totals.warnings, 0, 'redocly: 0 warnings');
  t.equal(report.totals.ignored, ignore.filter((l) => l.startsWith('    - ')).length, 'exactly the known findings are ignored');
  t.equal(run.code, 0, `redocly exits 0 (${run.stderr.slice(0, 300)})`);
}

t.test('with ADMIN_TOKEN: the document lints clean and says what generators need', async (t) => {
  const doc = await fetchDocument(t, ADMIN_TOKEN);
  await lint(t, doc, true);

  const ops = operations(doc);
  const ids = ops.map((o) => o.op.operationId);
  t.notOk(ids.includes(undefined), 'every operation has an operationId');
  t.equal(new Set(ids).size, ids.length, 'operationIds are unique');
  t.same(doc.servers, [{ url: '/', description: 'The server that serves this document.' }]);
  for (const { path, method, op } of ops) {
    for (const [status, r] of Object.entries(op.responses)) {
      if (r.description === 'Default Response' || r.description === '') t.fail(`${method} ${path} ${status}: no description`);
    }
  }
  const byId = new Map(ops.map((o) => [o.op.operationId, o.op]));

  // Error codes: the enum of what the route can answer, per status.
  const invoke = byId.get('invokeSymbol');
  t.same(codesOf(invoke, '404'), ['DylibNotFound', 'SymbolsNotFound']);
  t.same(codesOf(invoke, '422'), ['ExecutionTimeout', 'ResourceExhausted', 'StackOverflow', 'Trap']);
  t.same(codesOf(invoke, '400'), ['BadRequest', 'TypeMismatch']);
  t.same(codesOf(invoke, '401'), ['Unauthorized']);
  t.same(codesOf(byId.get('createTenant'), '409'), ['TenantExists']);
  t.same(codesOf(byId.get('revokeKey'), '404'), ['NotFound', 'TenantNotFound']);
  t.same(Object.keys(byId.get('getHealth')?.responses ?? {}), ['200', '500', '503'], '/health: no auth answers');

  // Arguments and results reference the value schemas.
  const invokeBody = invoke?.requestBody?.content['application/json']?.schema as { properties: { args: { items: unknown } } };
  t.same(invokeBody.properties.args.items, { $ref: '#/components/schemas/ArgValue' });
  t.ok(doc.components?.schemas?.['ArgValue'] && doc.components.schemas['ResultValue'], 'ArgValue and ResultValue are components');
  t.notOk(Object.keys(doc.components?.schemas ?? {}).some((id) => id.endsWith('Input')), 'no input twins left');

  // Module bodies per Content-Type, and typed query parameters.
  const add = byId.get('addModule');
  t.same(add?.requestBody?.content['application/wasm']?.schema, { type: 'string', format: 'binary', description: 'The module binary; options in the query string.' });
  t.equal(add?.requestBody?.content['text/plain']?.schema['type'], 'string');
  const param = (op: Operation | undefined, name: string) => op?.parameters?.find((p) => p.name === name && p.in === 'query')?.schema['type'];
  t.equal(param(add, 'lazy'), 'boolean');
  t.equal(param(add, 'optimize'), 'integer');
  t.equal(param(byId.get('readMemory'), 'offset'), 'integer');
  t.equal(param(byId.get('readMemory'), 'length'), 'integer');
  t.equal(param(byId.get('getDylib'), 'hidden'), 'boolean');
});

t.test('without ADMIN_TOKEN: the document lints clean and declares no auth', async (t) => {
  const doc = await fetchDocument(t, undefined);
  await lint(t, doc, false);
  t.same(codesOf(doc.paths['/dylibs/{dylib}/symbols/{symbol}/invoke']?.['post'], '401'), undefined, 'no 401 in open mode');
});

/** The README's walkthrough through the generated client; prints what it saw as JSON. */
const WALKTHROUGH = `
import createClient from 'openapi-fetch';
import type { paths } from './api.ts';

const client = createClient<paths>({
  baseUrl: process.env['BASE_URL'],
  headers: { authorization: \`Bearer \${process.env['TOKEN']}\` },
});

const WAT = \`(module
  (func $sq (param i32) (result i32) (i32.mul (local.get 0) (local.get 0)))
  (func (export "sumsq") (param i32 i32) (result i32) (i32.add (call $sq (local.get 0)) (call $sq (local.get 1))))
  (func (export "unused") (result i32) (i32.const 0)))\`;

// (module (func (export "seven") (result i32) i32.const 7))
const SEVEN = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f, 0x03, 0x02, 0x01, 0x00,
  0x07, 0x09, 0x01, 0x05, 0x73, 0x65, 0x76, 0x65, 0x6e, 0x00, 0x00, 0x0a, 0x06, 0x01, 0x04, 0x00, 0x41, 0x07, 0x0b,
]);

const dylib = await client.POST('/dylibs', { body: { name: 'main' } });
if (!dylib.data) throw new Error('createDylib failed');
const main: string = dylib.data.name;

const added = await client.POST('/dylibs/{dylib}/modules', {
  params: { path: { dylib: main }, query: { name: 'demo', lazy: true } },
  body: WAT,
  headers: { 'content-type': 'text/plain' },
  bodySerializer: (body) => body,
});
const binary = await client.POST('/dylibs/{dylib}/modules', {
  params: { path: { dylib: main }, query: { optimize: 1 } },
  body: SEVEN,
  headers: { 'content-type': 'application/wasm' },
  bodySerializer: (body) => body,
});

const symbol = await client.GET('/dylibs/{dylib}/symbols/{symbol}', { params: { path: { dylib: main, symbol: 'sumsq' } } });
const compiledBefore: boolean | undefined = symbol.data?.target?.compiled;

const first = await client.POST('/dylibs/{dylib}/symbols/{symbol}/invoke', {
  params: { path: { dylib: main, symbol: 'sumsq' } },
  body: { args: [3, 4] },
});
const second = await client.POST('/dylibs/{dylib}/invoke', {
  params: { path: { dylib: main } },
  body: { symbol: 'sumsq', args: [5, { type: 'i32', value: '12' }] },
});
const seven = await client.POST('/dylibs/{dylib}/invoke', { params: { path: { dylib: main } }, body: { symbol: 'seven' } });
const memory = await client.GET('/dylibs/{dylib}/memories/{symbol}', {
  params: { path: { dylib: 'spectest', symbol: 'memory' }, query: { offset: 0, length: 4 } },
});

const missing = await client.POST('/dylibs/{dylib}/invoke', { params: { path: { dylib: main } }, body: { symbol: 'nope' } });
let missingCode: string | undefined;
if (missing.error && missing.error.error.code === 'SymbolsNotFound') missingCode = missing.error.error.code;

const dump = await client.GET('/dump', { params: { query: { format: 'text' } }, parseAs: 'text' });

console.log(JSON.stringify({
  module: added.data?.module.name,
  symbols: added.data?.symbols.map((s) => s.name),
  binarySymbols: binary.data?.symbols.map((s) => s.name),
  compiledBefore,
  first: first.data?.results.map((r) => r.value),
  firstCompiled: first.data?.compiled,
  second: second.data?.results.map((r) => r.bits),
  secondCompiled: second.data?.compiled,
  seven: seven.data?.results[0]?.value,
  memoryLength: memory.data?.length,
  missingStatus: missing.response.status,
  missingCode,
  dumpMentionsSumsq: typeof dump.data === 'string' && dump.data.includes('sumsq'),
}));
`;

/** The walkthrough with one change the generated types must refuse. */
const BROKEN: Readonly<Record<string, [string, string]>> = {
  'nonsense-arg.ts': ["body: { args: [3, 4] },", 'body: { args: [{ nonsense: true }] },'],
  'misspelt-code.ts': ["missing.error.error.code === 'SymbolsNotFound'", "missing.error.error.code === 'Trapp'"],
  'json-module-body.ts': ['body: SEVEN,', 'body: { wasm: 42 },'],
};

/** Types for the document, with binary strings as bytes (openapi-typescript's transform). */
async function generateTypes(doc: Document): Promise<string> {
  const bytes = ts.factory.createUnionTypeNode([
    ts.factory.createTypeReferenceNode('Blob'),
    ts.factory.createTypeReferenceNode('Uint8Array'),
  ]);
  const ast = await openapiTS(doc as unknown as Parameters<typeof openapiTS>[0], {
    transform: (schema) => (schema.format === 'binary' ? bytes : undefined),
  });
  return astToString(ast);
}

t.test('a client generated by openapi-typescript type-checks the walkthrough and runs it', async (t) => {
  const app = await buildApp(t, ADMIN_TOKEN);
  const docRes = await call(app, 'GET', '/docs/json', undefined, { authorization: `Bearer ${ADMIN_TOKEN}` });
  const types = await generateTypes(json<Document>(docRes));

  const broken = Object.fromEntries(
    Object.entries(BROKEN).map(([file, [from, to]]) => {
      t.ok(WALKTHROUGH.includes(from), `${file}: the walkthrough has the line it changes`);
      return [file, WALKTHROUGH.replace(from, to)];
    }),
  );
  const tsconfig = {
    compilerOptions: {
      target: 'es2024',
      module: 'nodenext',
      moduleResolution: 'nodenext',
      strict: true,
      noUncheckedIndexedAccess: true,
      allowImportingTsExtensions: true,
      verbatimModuleSyntax: true,
      noEmit: true,
      skipLibCheck: true,
      lib: ['es2024', 'dom'],
      types: ['node'],
      typeRoots: [join(ROOT, 'node_modules/@types')],
    },
    files: ['walkthrough.ts', ...Object.keys(broken)],
  };
  const dir = t.testdir({
    'package.json': JSON.stringify({ type: 'module' }),
    'tsconfig.json': JSON.stringify(tsconfig),
    'api.ts': types,
    'walkthrough.ts': WALKTHROUGH,
    ...broken,
  });

  const tsc = await runNode([TSC, '-p', 'tsconfig.json', '--pretty', 'false'], dir);
  const errors = tsc.stdout.split('\n').filter((l) => / error TS\d+/.test(l));
  t.same(errors.filter((l) => l.startsWith('walkthrough.ts') || l.startsWith('api.ts')), [], 'the walkthrough type-checks against the generated client');
  for (const file of Object.keys(broken)) {
    const line = (broken[file] as string).split('\n').findIndex((l) => l.includes((BROKEN[file] as [string, string])[1])) + 1;
    t.ok(
      errors.some((e) => e.startsWith(`${file}(${line},`)),
      `${file}: refused at line ${line} (${errors.filter((e) => e.startsWith(file)).join(' | ') || 'no error'})`,
    );
  }

  // And it runs: the same program against the real server.
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  // As README's tenants section: the admin makes a tenant and a key; the program uses the key.
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
  t.equal((await call(app, 'POST', '/tenants', { name: 'walk' }, admin)).statusCode, 201);
  const key = json<{ key: string }>(await call(app, 'POST', '/tenants/walk/keys', {}, admin)).key;
  const run = await runNode(['walkthrough.ts'], dir, { BASE_URL: `http://127.0.0.1:${port}`, TOKEN: key });
  t.equal(run.code, 0, `the program runs (${run.stderr.slice(0, 500)})`);
  t.same(JSON.parse(run.stdout), {
    module: 'demo',
    symbols: ['sumsq', 'unused'],
    binarySymbols: ['seven'],
    compiledBefore: false,
    first: [25],
    firstCompiled: ['sumsq', 'm1:func[0]'],
    second: ['169'],
    secondCompiled: [],
    seven: 7,
    memoryLength: 4,
    missingStatus: 404,
    missingCode: 'SymbolsNotFound',
    dumpMentionsSumsq: true,
  });
});

t.test('the codes a route declares are documentation: its runtime schema takes any code', async (t) => {
  const entries = errorResponses('DylibNotFound', 'DylibExists');
  t.same(Object.keys(entries).sort(), ['404', '409'], 'one entry per status');
  const undeclared = { error: { code: 'Trap', message: 'Not one of this route\'s codes.', trap: 'unreachable' } };
  t.same(entries[404].parse(undeclared), undeclared, 'an undeclared code (and its details) still serializes');
});
