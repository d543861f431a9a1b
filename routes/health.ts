// GET /health: 200 once recovery is done and while the store is reachable; 503 with what it is
// waiting for otherwise. Answers without touching the JIT, so it stays fast while user code runs.

import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { Health, Unhealthy } from '../schemas/health.ts';
import type { RouteDeps } from './deps.ts';

export const healthRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, { service }) => {
  app.get(
    '/health',
    {
      config: { access: 'public' },
      schema: {
        operationId: 'getHealth',
        summary: 'Health',
        tags: ['operations'],
        response: { 200: Health, 503: Unhealthy },
        responseDescriptions: {
          200: 'Serving: recovery is done and the store is reachable.',
          503: 'Not serving: recovering at start (with its progress) or the store is unreachable (Retry-After).',
        },
      },
    },
    async (_request, reply) => {
      const h = await service.health();
      if (h.status === 'ok') return { status: 'ok' as const };
      reply.code(503).header('retry-after', '1');
      if (h.status === 'unavailable') return { status: 'unavailable' as const, reason: h.reason };
      const r = h.recovery;
      return r.status === 'recovering'
        ? {
            status: 'recovering' as const,
            recovery: { tenantsDone: r.tenantsDone, tenants: r.tenants, ...(r.current ? { current: r.current } : {}), definitions: r.definitions },
          }
        : { status: 'recovering' as const };
    },
  );
};
