// The app's route table as fastify registers it (src/app.ts built on a fresh fastify instance,
// collected with an onRoute hook), so the access tests walk every route that exists, HEAD routes
// and the documentation's routes included, and a route added later cannot be left out. The
// access each route declares is read once the app is ready, after the app's own onRoute hook has
// filled in the documentation routes' access.

import Fastify, { type RouteOptions } from 'fastify';
import app from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createService } from '../../src/service/createService.ts';

export interface RouteEntry {
  readonly method: string;
  readonly url: string;
  /** What the route declares in config.access (undefined: declares nothing). */
  readonly access: string | undefined;
  /** Hidden from the OpenAPI document (the documentation's own routes). */
  readonly hidden: boolean;
}

export async function appRoutes(env: Readonly<Record<string, string>>): Promise<RouteEntry[]> {
  const config = loadConfig({ DATABASE_URL: 'memory:', LOG_LEVEL: 'silent', ...env });
  const service = await createService(config, undefined, { inProcessExecutors: true });
  const seen: RouteOptions[] = [];
  const fastify = Fastify();
  fastify.addHook('onRoute', (route) => {
    seen.push(route);
  });
  try {
    await fastify.register(app, { service, config });
    await fastify.ready();
    return seen.flatMap((r) =>
      (Array.isArray(r.method) ? r.method : [r.method]).map((method) => ({
        method: String(method),
        url: r.url,
        access: r.config?.access,
        hidden: (r.schema as { hide?: boolean } | undefined)?.hide === true,
      })),
    );
  } finally {
    await fastify.close();
    await service.close();
  }
}
