// GET /dump: the whole execution session, as text in the spirit of ORC's
// ExecutionSession::dump (default) or as JSON in the API's shapes.

import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DumpQuery, SessionDump } from '../schemas/dump.ts';
import type { RouteDeps } from './deps.ts';

export const dumpRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, { session }) => {
  app.get(
    '/dump',
    {
      config: { access: 'read' },
      schema: {
        operationId: 'dumpSession',
        summary: 'Dump the execution session',
        tags: ['operations'],
        querystring: DumpQuery,
        response: {
          200: {
            description: 'format=text (default): text/plain; format=json: JSON.',
            content: {
              'text/plain': { schema: z.string() },
              'application/json': { schema: SessionDump },
            },
          },
        },
      },
    },
    async (request, reply) => {
      if (request.query.format === 'json') return reply.type('application/json').send(session(request).dump());
      return reply.type('text/plain; charset=utf-8').send(session(request).dumpText());
    },
  );
};
