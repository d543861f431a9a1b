// The HTTP application as a fastify plugin: zod as the one schema language (validation,
// serialization, OpenAPI at /docs), authentication (every route declares the access it needs,
// checked before it runs and stated in the OpenAPI document), per-tenant rate limits, the route
// groups, request metrics, and the single error handler that turns every failure into API.md's
// envelope {"error": {"code", "message", ...}}. It is given the service and config rather than
// building them, so tests can inject a double.

import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  createJsonSchemaTransform,
  createJsonSchemaTransformObject,
  isResponseSerializationError,
  serializerCompiler,
  validatorCompiler,
} from 'fastify-type-provider-zod';
import { dumpRoutes } from '../routes/dump.ts';
import { dylibRoutes } from '../routes/dylibs.ts';
import { healthRoutes } from '../routes/health.ts';
import { invokeRoutes } from '../routes/invoke.ts';
import { memoryRoutes } from '../routes/memories.ts';
import { metricsRoutes } from '../routes/metrics.ts';
import { moduleRoutes } from '../routes/modules.ts';
import { reexportRoutes } from '../routes/reexports.ts';
import { symbolRoutes } from '../routes/symbols.ts';
import type { RouteDeps } from '../routes/deps.ts';
import { type ApiErrorCode, isApiErrorCode, STATUS_BY_CODE } from '../schemas/errors.ts';
import { tenantRoutes } from '../routes/tenants.ts';
import type { Config } from './config.ts';
import { documentTransform } from './openapi/documentDocs.ts';
import { withOperationDocs } from './openapi/operationDocs.ts';
import { zodToJsonConfig } from './openapi/zodDocs.ts';
import { BEARER_SCHEME, bearerSecurityScheme, withAccessDocs } from './openapiSecurity.ts';
import type { JITService } from './service/JITService.ts';
import type { Service } from './service/Service.ts';
import { isKeyLookup, type KeyLookup, type Principal, type RouteAccess } from './tenants/Authenticator.ts';
import { StoreUnavailable } from './store/errors.ts';
import { Forbidden, TooManyRequests } from './tenants/errors.ts';

export interface AppOptions {
  readonly service: Service;
  readonly config: Config;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** What the route needs: nothing, a scope in a tenant's session, or the admin token. */
    access?: RouteAccess;
  }
  interface FastifyRequest {
    /** Who the request acts as; set before the route runs (undefined on public routes). */
    principal?: Principal;
  }
}

interface ErrorReply {
  readonly code: ApiErrorCode;
  readonly message: string;
  readonly details: Record<string, unknown>;
}

/** JITError and HttpError alike: a known code plus JSON-safe details. */
interface CodedError {
  readonly code: ApiErrorCode;
  readonly message: string;
  details(): Record<string, unknown>;
}

function isCodedError(err: unknown): err is CodedError {
  return (
    err instanceof Error &&
    isApiErrorCode((err as { code?: unknown }).code) &&
    typeof (err as { details?: unknown }).details === 'function'
  );
}

/** Fastify's schema-validation failure: which part of the request, and which paths in it. */
function validationReply(err: FastifyError): ErrorReply {
  const where = err.validationContext ?? 'request';
  const issues = (err.validation ?? []).map((v) => ({
    path: v.instancePath === '/' || v.instancePath === '' ? where : `${where}${v.instancePath}`,
    message: v.message ?? 'is invalid',
  }));
  const first = issues[0];
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
  return {
    code: 'BadRequest',
    message: first ? `Invalid request: ${first.path}: ${first.message}${more}.` : 'Invalid request.',
    details: { paths: issues.map((i) => i.path), issues },
  };
}

function classify(err: unknown, request: FastifyRequest): ErrorReply {
  if (isCodedError(err)) return { code: err.code, message: err.message, details: err.details() };
  const fe = err as Partial<FastifyError> | null;
  if (fe && Array.isArray(fe.validation)) return validationReply(fe as FastifyError);
  if (fe?.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    const limit = request.routeOptions.bodyLimit;
    return { code: 'PayloadTooLarge', message: `The request body is over the limit of ${limit} bytes.`, details: { limit } };
  }
  if (fe?.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    const contentType = request.headers['content-type'] ?? null;
    return {
      code: 'UnsupportedMediaType',
      message: `This route does not accept Content-Type ${JSON.stringify(contentType)}.`,
      details: { contentType },
    };
  }
  if (fe && typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    // Malformed JSON, an empty JSON body, a bad Content-Length...: fastify rejected the request.
    return { code: 'BadRequest', message: fe.message ?? 'Malformed request.', details: {} };
  }
  if (err instanceof Error && isResponseSerializationError(err as Parameters<typeof isResponseSerializationError>[0])) {
    return {
      code: 'Internal',
      message: `The service produced a ${request.method} ${request.routeOptions.url} response that does not match the API schema.`,
      details: {},
    };
  }
  const what = err instanceof Error ? err.message : String(err);
  return {
    code: 'Internal',
    message: `Internal error while handling ${request.method} ${request.routeOptions.url ?? request.url}: ${what}`,
    details: {},
  };
}

// Malformed requests are the client's problem but worth seeing; the JIT's own outcomes
// (a trap, a missing symbol) are ordinary results of user code.
const WARN_CODES: ReadonlySet<ApiErrorCode> = new Set([
  'BadRequest',
  'PayloadTooLarge',
  'UnsupportedMediaType',
  'TypeMismatch',
  'Unauthorized',
  'Forbidden',
  'TooManyRequests',
]);

function errorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply) {
  const { code, message, details } = classify(err, request);
  const status = STATUS_BY_CODE[code];
  if (code === 'Unauthorized') reply.header('www-authenticate', 'Bearer');
  const retryAfter = (err as { retryAfterSeconds?: unknown } | null)?.retryAfterSeconds;
  if (typeof retryAfter === 'number') reply.header('retry-after', String(Math.max(1, Math.ceil(retryAfter))));
  if (status >= 500) {
    // The stack and any cause go to the log only (never the request body).
    request.log.error({ err }, message);
  } else if (WARN_CODES.has(code)) {
    request.log.warn({ code, details }, message);
  } else {
    request.log.info({ code }, message);
  }
  return reply.code(status).send({ error: { ...details, code, message } });
}

/**
 * Errors fastify raises before a request reaches any route or hook (fastify's
 * `frameworkErrors` server option): a path segment that is not valid percent-encoding, or a
 * path parameter over the router's maxParamLength. Fastify would answer those with a body of
 * its own (and a 414 for the second); they are the client's mistakes, so BadRequest in the
 * API's envelope. The message does not echo the (possibly huge) path.
 */
export function frameworkErrorHandler(err: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const message =
    err.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? 'A path parameter is longer than the server accepts; the body forms of the routes take names of any length.'
      : err.code === 'FST_ERR_BAD_URL'
        ? 'The URL has a path segment that is not valid percent-encoding.'
        : `The request could not be routed: ${err.message}`;
  request.log.warn({ code: 'BadRequest', fastifyCode: err.code }, message);
  return reply.code(STATUS_BY_CODE.BadRequest).send({ error: { code: 'BadRequest', message } });
}

/** Marks a request one replica sent another (it is never forwarded again). */
const FORWARDED_HEADER = 'x-wasmjit-forwarded-by';

/** The session a request acts in: its principal's tenant. */
function sessionOf(service: Service, request: FastifyRequest): JITService {
  const p = request.principal;
  if (!p || p.tenant === undefined) {
    throw new Forbidden("The admin token acts in a tenant's session only with the header X-Tenant: <tenant>.");
  }
  return service.sessions.session(p.tenant);
}

export default async function app(fastify: FastifyInstance, { service, config }: AppOptions): Promise<void> {
  fastify.setValidatorCompiler(validatorCompiler);
  fastify.setSerializerCompiler(serializerCompiler);
  fastify.setErrorHandler((err, request, reply) => {
    // Which configured limits clients run into: the operator's first question about ResourceExhausted.
    const e = err as { code?: unknown; limit?: unknown } | null;
    if (e?.code === 'ResourceExhausted' && typeof e.limit === 'string') service.metrics.limitExceeded(e.limit);
    return errorHandler(err, request, reply);
  });
  fastify.setNotFoundHandler((request, reply) => {
    request.log.info({ code: 'NotFound' }, 'no such route');
    return reply.code(404).send({
      error: { code: 'NotFound', message: `There is no route ${request.method} ${request.url.split('?')[0]}.` },
    });
  });

  fastify.addHook('onRoute', (route) => {
    // The body limit is applied per route so it holds however the fastify instance was built.
    route.bodyLimit ??= config.bodyLimitBytes;
    // Every route says what access it needs, so a new route cannot forget authentication. The
    // documentation's routes (registered by @fastify/swagger-ui) are the admin's when auth is on.
    const declared = route.config?.access;
    if (declared === undefined) {
      if (!route.url.startsWith('/docs')) throw new Error(`route ${route.method} ${route.url} declares no access (config.access)`);
      route.config = { ...route.config, access: 'admin' };
    }
    // And names its operation, which generated clients call it by.
    if (!route.url.startsWith('/docs') && route.schema?.operationId === undefined) {
      throw new Error(`route ${route.method} ${route.url} declares no operationId (schema.operationId)`);
    }
  });

  const metrics = service.metrics;
  /** Authentication that reads the store (a tenant key) and, with replicas, the tenant's placement. */
  async function authenticateAndPlace(request: FastifyRequest, reply: FastifyReply, now: Principal | KeyLookup | undefined) {
    const access = request.routeOptions.config?.access;
    if (access === undefined || access === 'public') return;
    const xTenant = request.headers['x-tenant'];
    request.principal = isKeyLookup(now)
      ? await service.auth.authenticate({
          authorization: request.headers.authorization,
          xTenant: typeof xTenant === 'string' ? xTenant : undefined,
          address: request.ip,
          access,
        })
      : now;
    // Several replicas: the tenant's session lives in the replica holding its lease.
    const tenant = request.principal?.tenant;
    if (service.replicas !== undefined && tenant !== undefined) {
      const forwarded = request.headers[FORWARDED_HEADER] !== undefined;
      const placement = await service.replicas.place(tenant, forwarded);
      if (placement.local) return;
      // Sent here by a replica that believed this one holds it: the lease is moving; the client retries.
      if (forwarded) throw new StoreUnavailable(`The session of tenant "${tenant}" is moving between replicas; try again.`, 1);
      // The body is not read yet: hand the raw stream on, byte for byte. Not for GET and HEAD,
      // which have none: reply-from refuses to send a body with them (every forwarded GET
      // answered 500 "Rewriting the body when doing a GET is not allowed").
      if (request.method !== 'GET' && request.method !== 'HEAD') (request as { body: unknown }).body = request.raw;
      const self = service.replicas.replicaId;
      return reply.from(placement.url + request.url, {
        rewriteRequestHeaders: (_req, headers) => ({ ...headers, [FORWARDED_HEADER]: self }),
        // The holder is unreachable (it died: its lease runs out soon and another replica takes
        // the tenant over). Not a bug here: the client retries.
        onError: (r, { error }) => {
          request.log.warn({ err: error, holder: placement.replica }, 'the replica holding the tenant did not answer');
          const message = `The replica serving tenant "${tenant}" did not answer; another takes its sessions over within seconds: try again.`;
          void r.code(503).header('retry-after', '1').send({ error: { code: 'StoreUnavailable', message } });
        },
      });
    }
  }
  // Callback style, not async: the common request (open mode or the admin token, one replica)
  // is authenticated without a promise; one that needs the store goes the async way.
  fastify.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    const access = request.routeOptions.config?.access;
    if (access === undefined || access === 'public') return done();
    // Until recovery is done the sessions are not what clients made them: nothing but /health answers.
    if (service.sessions.state.status !== 'ok') {
      return done(new StoreUnavailable('The service is recovering its definitions from the store; try again shortly.', 1));
    }
    const xTenant = request.headers['x-tenant'];
    let now: Principal | KeyLookup | undefined;
    try {
      now = service.auth.authenticateNow({
        authorization: request.headers.authorization,
        xTenant: typeof xTenant === 'string' ? xTenant : undefined,
        address: request.ip,
        access,
      });
    } catch (err) {
      return done(err as Error);
    }
    if (!isKeyLookup(now) && service.replicas === undefined) {
      request.principal = now;
      return done();
    }
    // The hook runner waits for this promise (and done is not called on this path).
    return authenticateAndPlace(request, reply, now);
  });
  // The request was placed here before its body arrived; a body that took long, or this process
  // paused (GC, CPU starvation, SIGSTOP) past three quarters of LEASE_MS, may have let another
  // replica take the tenant over meanwhile. Checked again once the body is read, so such a write
  // is refused (nothing took effect; the client retries and reaches the new holder) rather than
  // applied to a session nobody else sees. A pause during the handler itself is not covered: that
  // needs the store's writes fenced by the lease.
  fastify.addHook('preHandler', (request, _reply, done) => {
    const tenant = request.principal?.tenant;
    if (service.replicas === undefined || tenant === undefined || service.replicas.serves(tenant)) return done();
    done(new StoreUnavailable(`The session of tenant "${tenant}" moved to another replica while this request was arriving; try again.`, 1));
  });
  fastify.addHook('onResponse', (request, reply, done) => {
    metrics.observeRequest(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
    done();
  });

  // Each tenant's request rate (its `requestsPerSecond` limit, else REQUESTS_PER_SECOND; 0: none),
  // counted after authentication so it is the tenant's, not the client address's.
  const requestsPerSecond = (tenant: string) => service.sessions.effectiveLimits(service.sessions.getTenant(tenant).limits).requestsPerSecond;
  await fastify.register(rateLimit, {
    // Not on every route by itself: the hook below calls it for the requests of a limited tenant.
    global: false,
    timeWindow: 1000,
    keyGenerator: (request) => request.principal?.tenant ?? `ip:${request.ip}`,
    max: (request) => {
      const tenant = request.principal?.tenant;
      return tenant === undefined ? 0 : requestsPerSecond(tenant);
    },
    allowList: (request) => {
      const tenant = request.principal?.tenant;
      return tenant === undefined || requestsPerSecond(tenant) === 0;
    },
    errorResponseBuilder: (_request, context) => new TooManyRequests(`The tenant's limit of ${context.max} requests per second is reached.`, Math.ceil(context.ttl / 1000)),
  });
  // The plugin's own per-route hook costs a handful of promises per request even for a tenant
  // with no limit (most: the default is none); asked first, such a request pays none of them.
  const limitRate = fastify.rateLimit();
  fastify.addHook('preHandler', function (request, reply, done) {
    const tenant = request.principal?.tenant;
    if (tenant === undefined || requestsPerSecond(tenant) === 0) return done();
    // The hook runner waits for this promise (and done is not called on this path).
    return limitRate.call(this, request, reply);
  });

  const authOn = config.adminToken !== undefined;
  await fastify.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'wasm-orc-jit',
        description: 'JIT-as-a-service for WebAssembly, modelled on LLVM ORC. Contract: API.md.',
        version: '2',
        // The package is private and declares no license; say so rather than leave it unstated.
        license: { name: 'UNLICENSED' },
      },
      // Open mode checks nothing: an empty requirement says so for every operation.
      ...(authOn ? { components: { securitySchemes: { [BEARER_SCHEME]: bearerSecurityScheme } } } : { security: [] }),
      tags: [
        { name: 'dylibs', description: 'JITDylibs: named symbol tables with a link order.' },
        { name: 'modules', description: 'Adding and removing wasm modules, and reexports.' },
        { name: 'symbols', description: 'Looking symbols up through a link order.' },
        { name: 'invoke', description: 'Calling functions (compiling lazy bodies on first call).' },
        { name: 'memories', description: "Reading and writing a memory's bytes." },
        { name: 'tenants', description: 'Tenants and their API keys (admin token).' },
        { name: 'operations', description: 'Health, metrics and the session dump.' },
      ],
    },
    transform: withAccessDocs(withOperationDocs(createJsonSchemaTransform({ skipList: [], zodToJsonConfig }), { authOn }), authOn),
    transformObject: documentTransform(createJsonSchemaTransformObject({ zodToJsonConfig }), {
      // Relative: a client reading the document from the server sends its requests to that server.
      servers: [{ url: '/', description: 'The server that serves this document.' }],
    }),
  });
  await fastify.register(swaggerUi, { routePrefix: '/docs' });

  // Forwarding to the replica that holds a tenant's session (undici underneath). Loaded only in
  // replica mode: it brings its own undici, about 10 MB of an idle single server's memory.
  if (service.replicas !== undefined) {
    const { default: replyFrom } = await import('@fastify/reply-from');
    await fastify.register(replyFrom, { disableRequestLogging: true });
  }

  const deps: RouteDeps = { service, config, metrics, session: (request) => sessionOf(service, request) };
  for (const routes of [
    healthRoutes,
    dylibRoutes,
    moduleRoutes,
    reexportRoutes,
    symbolRoutes,
    invokeRoutes,
    memoryRoutes,
    dumpRoutes,
    metricsRoutes,
    tenantRoutes,
  ]) {
    await fastify.register(routes, deps);
  }
}
