// The process entry point: load and validate the config, build the pino logger and the service
// (opening the store: a corrupt or too-new one stops the start with a message naming it), serve
// the app on HOST:PORT, recover the tenants' definitions from the store (/health answers 503
// until that is done), and shut down gracefully on SIGTERM/SIGINT (stop accepting, let in-flight
// requests finish, close the service, exit 0). buildServer and startServer are exported so tests
// can run the real server around a service they built.

import { randomUUID } from 'node:crypto';
import { flushCompileCache } from 'node:module';
import closeWithGrace from 'close-with-grace';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { type Logger, pino } from 'pino';
import app, { frameworkErrorHandler } from './app.ts';
import { type Config, ConfigError, loadConfig } from './config.ts';
import { createService } from './service/createService.ts';
import type { Service } from './service/Service.ts';

export interface ServerParts {
  readonly config: Config;
  readonly service: Service;
  readonly logger: Logger;
}

export function createLogger(config: Pick<Config, 'logLevel'>): Logger {
  return pino({ level: config.logLevel, redact: ['req.headers.authorization', 'req.headers.cookie'] });
}

/** The fastify instance with the app registered, not yet listening. Closing it closes the service. */
export async function buildServer({ config, service, logger }: ServerParts): Promise<FastifyInstance> {
  const loggerInstance: FastifyBaseLogger = logger;
  const server = Fastify({
    loggerInstance,
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    bodyLimit: config.bodyLimitBytes,
    // Symbol names of any length may travel as path segments; the default limit is 100.
    routerOptions: { maxParamLength: 16 * 1024 },
    // A bad URL or an over-long path parameter is answered in the API's error envelope too.
    frameworkErrors: frameworkErrorHandler,
  });
  // While closing, answer in-flight requests with Connection: close, so keep-alive clients
  // do not hold the shutdown open until their sockets time out.
  let closing = false;
  server.addHook('preClose', async () => {
    closing = true;
  });
  server.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) reply.header('connection', 'close');
    done(null, payload);
  });
  server.addHook('onClose', async () => {
    await service.close();
  });
  await server.register(app, { service, config });
  return server;
}

export async function startServer(parts: ServerParts): Promise<FastifyInstance> {
  const server = await buildServer(parts);
  await server.listen({ host: parts.config.host, port: parts.config.port });
  return server;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/** Signals a process must leave to V8 and the OS: they report faults, not requests to stop. */
export const FATAL_SIGNALS = ['SIGSEGV', 'SIGBUS', 'SIGILL', 'SIGFPE', 'SIGTRAP', 'SIGABRT'] as const;

/** Runs the server until SIGTERM/SIGINT. */
export async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  const logger = createLogger(config);
  let service;
  try {
    service = await createService(config, logger);
  } catch (err) {
    // A store that cannot be opened (corrupt, newer than this code, unreachable) stops the start.
    logger.fatal({ err }, `cannot start: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
  const server = await startServer({ config, service, logger });
  // With NODE_COMPILE_CACHE set (npm start and the image set it), the next start reads the
  // transpiled and compiled sources from that cache and never loads Node's TypeScript stripper,
  // about 27 MB of the idle process. Node writes the cache at exit; writing it now as well means a
  // server that ends by kill -9 or the OOM killer still leaves it behind. Without the variable
  // this does nothing.
  flushCompileCache();
  if (config.adminToken === undefined && !isLoopback(config.host)) {
    logger.warn({ host: config.host }, 'serving without ADMIN_TOKEN on an address other than loopback: anyone who can reach it can read, call and delete everything');
  }
  service.recover().catch((err: unknown) => {
    logger.fatal({ err }, `recovery from the store failed: ${err instanceof Error ? err.message : String(err)}`);
    // Exit explicitly: once the server is closed the event loop empties, and close-with-grace's
    // beforeExit handler would end the process with code 0, which a supervisor takes for success.
    void server.close().finally(() => process.exit(1));
  });
  // close-with-grace also listens to the fatal signals unless told to skip them, and a JavaScript
  // listener for SIGSEGV or SIGBUS replaces the handler V8 installs to turn a wasm out-of-bounds
  // access into a trap: the first such access would then end the process. Those signals stay V8's.
  closeWithGrace({ delay: config.maxCallTimeoutMs + 5000, logger, skip: [...FATAL_SIGNALS] }, async ({ signal, err }) => {
    if (err) logger.error({ err }, 'shutting down after an unhandled error');
    else logger.info({ signal }, 'shutting down');
    await server.close(); // stops accepting, waits for in-flight requests, then closes the service
  });
}

if (import.meta.main) await main();
