// GET /metrics: the Prometheus exposition of src/metrics/AppMetrics.ts (admin only when auth is on).

import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { RouteDeps } from './deps.ts';

export const metricsRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, { metrics }) => {
  app.get(
    '/metrics',
    {
      config: { access: 'admin' },
      schema: {
        operationId: 'getMetrics',
        summary: 'Prometheus metrics',
        tags: ['operations'],
        produces: ['text/plain'],
        response: { 200: z.string().describe('Prometheus text exposition format.') },
      },
    },
    async (_request, reply) => {
      const text = await metrics.scrape();
      return reply.type(metrics.registry.contentType).send(text);
    },
  );
};
