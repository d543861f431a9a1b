// GET /health: liveness. Answers without touching the JIT, so it stays fast while user code runs.

import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { Health } from '../schemas/health.ts';
import type { RouteDeps } from './deps.ts';

export const healthRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app) => {
  app.get(
    '/health',
    { schema: { summary: 'Liveness', tags: ['operations'], response: { 200: Health } } },
    async () => ({ status: 'ok' as const }),
  );
};
