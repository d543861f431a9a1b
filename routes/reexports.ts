// POST /dylibs/:dylib/reexports: define symbols of a dylib as (lazy) reexports of another's.

import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { DylibParams } from '../schemas/common.ts';
import { errorResponses } from '../schemas/errors.ts';
import { ReexportsBody } from '../schemas/reexports.ts';
import { SymbolList } from '../schemas/symbol.ts';
import type { RouteDeps } from './deps.ts';

export const reexportRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, { session }) => {
  app.post(
    '/dylibs/:dylib/reexports',
    {
      config: { access: 'write' },
      schema: {
        operationId: 'addReexports',
        summary: "Reexport another dylib's symbols",
        tags: ['modules'],
        params: DylibParams,
        body: ReexportsBody,
        response: { 201: SymbolList, ...errorResponses('DylibNotFound', 'SymbolsNotFound', 'DuplicateDefinition') },
        responseDescriptions: { 201: 'The symbols defined.' },
      },
    },
    async (request, reply) => {
      const { from, symbols, lazy } = request.body;
      const result = await session(request).addReexports(request.params.dylib, from, symbols, { lazy: lazy ?? false });
      return reply.code(201).send(result);
    },
  );
};
