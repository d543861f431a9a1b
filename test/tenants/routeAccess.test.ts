// Every route of the app against the real server process started with ADMIN_TOKEN, as API.md
// "Tenants and keys" says it must answer each kind of caller: no key and a wrong key get 401 with
// WWW-Authenticate: Bearer; a key of one scope gets the route when the route needs that scope
// (read: GET routes, lookup, dump; write: dylibs, modules, reexports, link orders, memory writes;
// invoke: invokes) and 403 otherwise; another tenant's key never reaches this tenant's dylibs
// (404) and sees none of them; the admin token gets the admin routes, and the tenant routes only
// with X-Tenant; a tenant key on an admin route gets 403; /health is public. The routes walked are
// the app's own route table (routeTable.ts), and the test fails for a route it has no entry for.
// A refused request changes nothing: the tenant's dump and the tenant list are compared around
// each one. The OpenAPI document must declare the bearer scheme and each operation's access.

import t from 'tap';
import { startServerProcess } from '../support/serverProcess.ts';
import { wat2wasm } from '../support/wat.ts';
import { appRoutes, type RouteEntry } from './routeTable.ts';
import {
  ADMIN,
  ADMIN_TOKEN,
  addModule,
  adminIn,
  type Client,
  createDylib,
  createKey,
  createTenant,
  type Credential,
  type ErrorBody,
  NOBODY,
  type Reply,
  SetupFailed,
  seg,
  startAuthServer,
  withKey,
} from './support.ts';

type Access = 'public' | 'read' | 'write' | 'invoke' | 'admin';

const ALICE = 'alice';
const BOB = 'bob';
/** Every dylib of alice's starts with this, so nothing of hers can hide in another tenant's answer. */
const MINE = 'alice-';
const MAIN = `${MINE}main`;

const MODULE = wat2wasm(`(module
  (memory (export "mem") 1)
  (global (export "g") (mut i32) (i32.const 7))
  (func (export "f") (param i32) (result i32) (i32.mul (local.get 0) (i32.const 3))))`);

interface Ctx {
  readonly client: Client;
  /** A name nothing has yet. */
  fresh(prefix: string): string;
  /** The prefix of the dylibs the current caller makes in its own session (bob's are not alice's). */
  owner: string;
}

interface Req {
  readonly path: string;
  readonly json?: unknown;
}

interface Fixture {
  /** What API.md says the route needs. */
  readonly access: Access;
  /** The status a caller allowed to use the route gets. */
  readonly success: number;
  /** Makes what one request needs (a fresh target for routes that change or remove something). */
  prepare(ctx: Ctx): Promise<Req>;
  /** The request names one of alice's dylibs: another tenant's key gets DylibNotFound. */
  readonly namesDylib?: boolean;
}

const TENANT_ROUTES: Readonly<Record<string, Fixture>> = {
  'POST /dylibs': { access: 'write', success: 201, prepare: async (c) => ({ path: '/dylibs', json: { name: c.fresh(c.owner) } }) },
  'GET /dylibs': { access: 'read', success: 200, prepare: async () => ({ path: '/dylibs' }) },
  'GET /dylibs/:dylib': { access: 'read', success: 200, namesDylib: true, prepare: async () => ({ path: `/dylibs/${MAIN}` }) },
  'PUT /dylibs/:dylib/link-order': {
    access: 'write',
    success: 200,
    namesDylib: true,
    prepare: async () => ({ path: `/dylibs/${MAIN}/link-order`, json: { linkOrder: [MAIN] } }),
  },
  'DELETE /dylibs/:dylib': {
    access: 'write',
    success: 204,
    namesDylib: true,
    prepare: async (c) => {
      const name = c.fresh(MINE);
      await createDylib(c.client, adminIn(ALICE), name);
      return { path: `/dylibs/${seg(name)}` };
    },
  },
  'POST /dylibs/:dylib/modules': {
    access: 'write',
    success: 201,
    namesDylib: true,
    prepare: async (c) => {
      const name = c.fresh(MINE);
      await createDylib(c.client, adminIn(ALICE), name);
      return { path: `/dylibs/${seg(name)}/modules`, json: { wasm: Buffer.from(MODULE).toString('base64') } };
    },
  },
  'DELETE /dylibs/:dylib/modules/:module': {
    access: 'write',
    success: 204,
    namesDylib: true,
    prepare: async (c) => {
      const name = c.fresh(MINE);
      await createDylib(c.client, adminIn(ALICE), name);
      const added = await addModule(c.client, adminIn(ALICE), name, MODULE);
      return { path: `/dylibs/${seg(name)}/modules/${seg(added.module.id)}` };
    },
  },
  'POST /dylibs/:dylib/reexports': {
    access: 'write',
    success: 201,
    namesDylib: true,
    prepare: async (c) => {
      const name = c.fresh(MINE);
      await createDylib(c.client, adminIn(ALICE), name);
      return { path: `/dylibs/${seg(name)}/reexports`, json: { from: MAIN, symbols: ['f'] } };
    },
  },
  'GET /dylibs/:dylib/symbols/:symbol': { access: 'read', success: 200, namesDylib: true, prepare: async () => ({ path: `/dylibs/${MAIN}/symbols/f` }) },
  'POST /dylibs/:dylib/lookup': { access: 'read', success: 200, namesDylib: true, prepare: async () => ({ path: `/dylibs/${MAIN}/lookup`, json: { symbols: ['f', 'g'] } }) },
  'POST /dylibs/:dylib/symbols/:symbol/invoke': {
    access: 'invoke',
    success: 200,
    namesDylib: true,
    prepare: async () => ({ path: `/dylibs/${MAIN}/symbols/f/invoke`, json: { args: [5] } }),
  },
  'POST /dylibs/:dylib/invoke': { access: 'invoke', success: 200, namesDylib: true, prepare: async () => ({ path: `/dylibs/${MAIN}/invoke`, json: { symbol: 'f', args: [5] } }) },
  'GET /dylibs/:dylib/memories/:symbol': { access: 'read', success: 200, namesDylib: true, prepare: async () => ({ path: `/dylibs/${MAIN}/memories/mem?length=4` }) },
  'GET /dylibs/:dylib/memories': { access: 'read', success: 200, namesDylib: true, prepare: async () => ({ path: `/dylibs/${MAIN}/memories?symbol=mem&length=4` }) },
  'PUT /dylibs/:dylib/memories/:symbol': {
    access: 'write',
    success: 200,
    namesDylib: true,
    prepare: async () => ({ path: `/dylibs/${MAIN}/memories/mem`, json: { offset: 8, base64: 'AQID' } }),
  },
  'PUT /dylibs/:dylib/memories': {
    access: 'write',
    success: 200,
    namesDylib: true,
    prepare: async () => ({ path: `/dylibs/${MAIN}/memories`, json: { symbol: 'mem', offset: 16, base64: 'BAUG' } }),
  },
  'GET /dump': { access: 'read', success: 200, prepare: async () => ({ path: '/dump?format=json' }) },
};

/** A tenant of its own for the admin routes that change or remove one. */
async function scratchTenant(c: Ctx): Promise<string> {
  const name = c.fresh('scratch-');
  await createTenant(c.client, name);
  return name;
}

const ADMIN_ROUTES: Readonly<Record<string, Fixture>> = {
  'GET /metrics': { access: 'admin', success: 200, prepare: async () => ({ path: '/metrics' }) },
  'POST /tenants': { access: 'admin', success: 201, prepare: async (c) => ({ path: '/tenants', json: { name: c.fresh('made-') } }) },
  'GET /tenants': { access: 'admin', success: 200, prepare: async () => ({ path: '/tenants' }) },
  'GET /tenants/:tenant': { access: 'admin', success: 200, prepare: async () => ({ path: `/tenants/${ALICE}` }) },
  'PATCH /tenants/:tenant': {
    access: 'admin',
    success: 200,
    prepare: async (c) => ({ path: `/tenants/${await scratchTenant(c)}`, json: { limits: { dylibs: 50 } } }),
  },
  'DELETE /tenants/:tenant': { access: 'admin', success: 204, prepare: async (c) => ({ path: `/tenants/${await scratchTenant(c)}` }) },
  'POST /tenants/:tenant/keys': {
    access: 'admin',
    success: 201,
    prepare: async (c) => ({ path: `/tenants/${await scratchTenant(c)}/keys`, json: { scopes: ['read'] } }),
  },
  'GET /tenants/:tenant/keys': { access: 'admin', success: 200, prepare: async () => ({ path: `/tenants/${ALICE}/keys` }) },
  'DELETE /tenants/:tenant/keys/:id': {
    access: 'admin',
    success: 204,
    prepare: async (c) => {
      const tenant = await scratchTenant(c);
      const key = await createKey(c.client, tenant, ['read']);
      return { path: `/tenants/${tenant}/keys/${key.id}` };
    },
  },
};

/** The documentation's routes (registered by @fastify/swagger-ui): the admin's when auth is on. */
const DOCS_ROUTES: Readonly<Record<string, Fixture>> = {
  'GET /docs': { access: 'admin', success: 200, prepare: async () => ({ path: '/docs' }) },
  'GET /docs/': { access: 'admin', success: 200, prepare: async () => ({ path: '/docs/' }) },
  'GET /docs/json': { access: 'admin', success: 200, prepare: async () => ({ path: '/docs/json' }) },
  'GET /docs/yaml': { access: 'admin', success: 200, prepare: async () => ({ path: '/docs/yaml' }) },
  // swagger-ui redirects its index page to /docs/.
  'GET /docs/static/index.html': { access: 'admin', success: 302, prepare: async () => ({ path: '/docs/static/index.html' }) },
  'GET /docs/static/swagger-initializer.js': { access: 'admin', success: 200, prepare: async () => ({ path: '/docs/static/swagger-initializer.js' }) },
  'GET /docs/static/*': { access: 'admin', success: 200, prepare: async () => ({ path: '/docs/static/swagger-ui.css' }) },
};

const FIXTURES: Readonly<Record<string, Fixture>> = {
  'GET /health': { access: 'public', success: 200, prepare: async () => ({ path: '/health' }) },
  ...TENANT_ROUTES,
  ...ADMIN_ROUTES,
  ...DOCS_ROUTES,
};

/** A route's fixture; HEAD routes (fastify's, for every GET) share their GET's. */
function fixtureOf(route: RouteEntry): Fixture | undefined {
  const method = route.method === 'HEAD' ? 'GET' : route.method;
  return FIXTURES[`${method} ${route.url}`];
}

type Caller = 'nobody' | 'wrongKey' | 'read' | 'write' | 'invoke' | 'otherTenant' | 'admin' | 'adminWithTenant';
const CALLERS: readonly Caller[] = ['nobody', 'wrongKey', 'read', 'write', 'invoke', 'otherTenant', 'admin', 'adminWithTenant'];

type Expected = { readonly allowed: true } | { readonly allowed: false; readonly status: number; readonly code: string };

const ALLOWED: Expected = { allowed: true };
const UNAUTHORIZED: Expected = { allowed: false, status: 401, code: 'Unauthorized' };
const FORBIDDEN: Expected = { allowed: false, status: 403, code: 'Forbidden' };
const NOT_HIS: Expected = { allowed: false, status: 404, code: 'DylibNotFound' };

/** What API.md says `caller` gets on a route needing `f.access`. */
function expected(caller: Caller, f: Fixture): Expected {
  if (f.access === 'public') return ALLOWED;
  switch (caller) {
    case 'nobody':
    case 'wrongKey':
      return UNAUTHORIZED;
    case 'read':
    case 'write':
    case 'invoke':
      return f.access === caller ? ALLOWED : FORBIDDEN;
    case 'otherTenant':
      if (f.access === 'admin') return FORBIDDEN;
      return f.namesDylib ? NOT_HIS : ALLOWED;
    case 'admin':
      return f.access === 'admin' ? ALLOWED : FORBIDDEN;
    case 'adminWithTenant':
      return ALLOWED;
  }
}

/** Alice's definitions and the tenant list: what a refused request must leave as it was. */
async function snapshot(client: Client): Promise<string> {
  const dump = await client.send(adminIn(ALICE), 'GET', '/dump?format=json');
  const tenants = await client.send<{ tenants: { name: string; limits: unknown }[] }>(ADMIN, 'GET', '/tenants');
  if (dump.status !== 200 || tenants.status !== 200) throw new SetupFailed('taking a snapshot', dump.status !== 200 ? dump : tenants);
  const names = tenants.json.tenants.map((x) => ({ name: x.name, limits: x.limits }));
  return JSON.stringify({ dump: dump.json, tenants: names });
}

t.test('every route declares the access API.md gives it, and this test knows every route', async (t) => {
  const routes = await appRoutes({ ADMIN_TOKEN });
  t.ok(routes.length > 30, `the app registers its routes (${routes.length})`);
  for (const r of routes) {
    const f = fixtureOf(r);
    if (!f) {
      t.fail(`${r.method} ${r.url} is a route this test does not know: add it to FIXTURES with the access API.md gives it`);
      continue;
    }
    t.equal(r.access, f.access, `${r.method} ${r.url} declares access "${f.access}"`);
  }
  const known = new Set(routes.map((r) => `${r.method === 'HEAD' ? 'GET' : r.method} ${r.url}`));
  for (const key of Object.keys(FIXTURES)) t.ok(known.has(key), `${key} is a route of the app`);
});

t.test('each kind of caller on each route, against the real process', async (t) => {
  const routes = await appRoutes({ ADMIN_TOKEN });
  // Every refused request counts as a failed authentication; this test makes hundreds of them.
  const { client } = await startAuthServer(t, { AUTH_FAILURES_PER_MINUTE: '100000' });
  let n = 0;
  const ctx: Ctx = { client, fresh: (prefix) => `${prefix}${++n}`, owner: MINE };

  await createTenant(client, ALICE);
  await createTenant(client, BOB);
  await createDylib(client, adminIn(ALICE), MAIN);
  await addModule(client, adminIn(ALICE), MAIN, MODULE);
  const keys = {
    read: await createKey(client, ALICE, ['read'], 'reader'),
    write: await createKey(client, ALICE, ['write'], 'writer'),
    invoke: await createKey(client, ALICE, ['invoke'], 'invoker'),
    bob: await createKey(client, BOB),
  };
  t.same(keys.bob.scopes, ['read', 'write', 'invoke'], 'a key made without scopes has all three');
  const credentials: Record<Caller, Credential> = {
    nobody: NOBODY,
    wrongKey: withKey(`wjk_${Buffer.alloc(32, 7).toString('base64url')}`),
    read: withKey(keys.read.key),
    write: withKey(keys.write.key),
    invoke: withKey(keys.invoke.key),
    otherTenant: withKey(keys.bob.key),
    admin: ADMIN,
    adminWithTenant: adminIn(ALICE),
  };

  const tally = { allowed: 0, refused: 0 };
  for (const route of routes) {
    const f = fixtureOf(route);
    if (!f) continue; // reported by the test above
    await t.test(`${route.method} ${route.url}`, async (t) => {
      for (const caller of CALLERS) {
        const want = expected(caller, f);
        ctx.owner = caller === 'otherTenant' ? 'bob-' : MINE;
        const req = await f.prepare(ctx);
        const before = want.allowed && caller !== 'otherTenant' ? undefined : await snapshot(client);
        const res = await client.send(credentials[caller], route.method, req.path, req.json === undefined ? {} : { json: req.json });
        const what = `${caller}: ${route.method} ${req.path}`;
        if (want.allowed) {
          tally.allowed++;
          t.equal(res.status, f.success, `${what}: allowed, ${f.success} (got ${res.status}: ${res.text.slice(0, 200)})`);
        } else {
          tally.refused++;
          t.equal(res.status, want.status, `${what}: ${want.status} ${want.code} (got ${res.status}: ${res.text.slice(0, 200)})`);
          // HEAD answers carry no body.
          if (route.method !== 'HEAD') t.equal((res.json as ErrorBody | undefined)?.error?.code, want.code, `${what}: error code ${want.code}`);
          if (want.status === 401) t.equal(res.headers['www-authenticate'], 'Bearer', `${what}: WWW-Authenticate: Bearer`);
        }
        if (before !== undefined) t.equal(await snapshot(client), before, `${what}: alice's definitions and the tenants are as before`);
        if (caller === 'otherTenant' && res.status < 300) {
          t.notOk(res.text.includes(MINE), `${what}: the answer shows nothing of alice's`);
        }
      }
    });
  }
  t.comment(`${tally.allowed} allowed and ${tally.refused} refused requests over ${routes.length} routes`);
});

t.test('a key acts in its own tenant whatever X-Tenant says; the admin token names a tenant that must exist', async (t) => {
  const { client } = await startAuthServer(t);
  await createTenant(client, ALICE);
  await createTenant(client, BOB);
  await createDylib(client, adminIn(ALICE), MAIN);
  const bob = await createKey(client, BOB);
  const res = await client.send(withKey(bob.key), 'GET', `/dylibs/${MAIN}`, { headers: { 'x-tenant': ALICE } });
  t.equal(res.status, 404, `bob's key with X-Tenant: ${ALICE} still acts in bob's session (got ${res.status})`);
  t.equal((res.json as ErrorBody).error.code, 'DylibNotFound');
  const mine = await client.send<{ dylibs: { name: string }[] }>(withKey(bob.key), 'GET', '/dylibs', { headers: { 'x-tenant': ALICE } });
  t.same(mine.json.dylibs.map((d) => d.name), ['spectest'], "bob sees his own session: the built-in spectest alone");

  const nobody = await client.send(adminIn('nobody-here'), 'GET', '/dylibs');
  t.equal(nobody.status, 404, 'the admin token in a tenant that does not exist: 404');
  t.equal((nobody.json as ErrorBody).error.code, 'TenantNotFound');

  // Two tenants may each have a dylib of the same name.
  await createDylib(client, withKey(bob.key), MAIN);
  const both = await Promise.all([ALICE, BOB].map((x) => client.send<{ name: string; modules: unknown[] }>(adminIn(x), 'GET', `/dylibs/${MAIN}`)));
  t.same(both.map((r) => r.status), [200, 200], `alice and bob each have a dylib ${MAIN}`);
});

t.test('/health is public, and a credential on it is neither needed nor checked', async (t) => {
  const { client } = await startAuthServer(t, { AUTH_FAILURES_PER_MINUTE: '1' });
  for (const as of [NOBODY, withKey('wjk_not-a-key'), ADMIN]) {
    const res = await client.send(as, 'GET', '/health');
    t.equal(res.status, 200);
    t.same(res.json, { status: 'ok' });
  }
  // A wrong key on /health is not a failed authentication: the address is not blocked by it.
  const res = await client.send(ADMIN, 'GET', '/tenants');
  t.equal(res.status, 200, 'the admin token still works after wrong keys on /health');
});

interface Operation {
  readonly security?: Record<string, string[]>[];
  readonly 'x-access'?: string;
  readonly responses?: Record<string, unknown>;
}
interface OpenApiDocument {
  readonly components?: { readonly securitySchemes?: Record<string, { type?: string; scheme?: string }> };
  readonly paths: Record<string, Record<string, Operation>>;
}

/** The OpenAPI path of a fastify route: `:name` becomes `{name}`. */
const openapiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

t.test('the OpenAPI document declares the bearer scheme and each operation\'s access', async (t) => {
  const routes = (await appRoutes({ ADMIN_TOKEN })).filter((r) => !r.hidden && r.method !== 'HEAD');
  const { client } = await startAuthServer(t);
  const res: Reply<OpenApiDocument> = await client.send(ADMIN, 'GET', '/docs/json');
  t.equal(res.status, 200);
  const doc = res.json;
  const schemes = doc.components?.securitySchemes ?? {};
  t.match(schemes['bearer'], { type: 'http', scheme: 'bearer' }, 'components.securitySchemes.bearer is HTTP bearer');
  for (const r of routes) {
    const f = fixtureOf(r);
    const op = doc.paths[openapiPath(r.url)]?.[r.method.toLowerCase()];
    if (!f || !op) {
      t.fail(`${r.method} ${r.url}: ${f ? 'not in the OpenAPI document' : 'no fixture'}`);
      continue;
    }
    const security = f.access === 'public' ? [] : [{ bearer: [f.access] }];
    t.same(op.security, security, `${r.method} ${r.url}: security ${JSON.stringify(security)}`);
    t.equal(op['x-access'], f.access, `${r.method} ${r.url}: x-access ${f.access}`);
    if (f.access !== 'public') {
      for (const status of ['401', '403', '429']) t.ok(op.responses?.[status], `${r.method} ${r.url}: documents ${status}`);
    }
  }
  t.ok(routes.some((r) => r.url === '/dylibs/:dylib/invoke'), 'the tenant routes are in the document');
});

t.test('without ADMIN_TOKEN the document declares no security, as nothing is checked', async (t) => {
  const server = await startServerProcess(t);
  const res = await server.get<OpenApiDocument>('/docs/json');
  t.equal(res.status, 200, 'open mode: the documentation needs no key');
  t.notOk(res.json.components?.securitySchemes, 'no security schemes');
  const secured = Object.entries(res.json.paths).flatMap(([p, ops]) => Object.entries(ops).filter(([, op]) => op.security !== undefined).map(([m]) => `${m} ${p}`));
  t.same(secured, [], 'no operation lists a security requirement');
});
