// Looking symbols up through a dylib's link order: one by path, or several (all or nothing) by
// body, which is also the form for names that cannot be put in a path segment conveniently.

import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { DylibParams, SymbolParams } from '../schemas/common.ts';
import { errorResponses } from '../schemas/errors.ts';
import { LookupBody, SymbolList, SymbolView } from '../schemas/symbol.ts';
import type { RouteDeps } from './deps.ts';

const tags = ['symbols'];

export const symbolRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, { session }) => {
  app.get(
    '/dylibs/:dylib/symbols/:symbol',
    {
      config: { access: 'read' },
      schema: {
        operationId: 'lookupSymbol',
        summary: 'Look a symbol up through the link order',
        description: 'Resolves the symbol (its address is then set) without compiling a lazy body.',
        tags,
        params: SymbolParams,
        response: { 200: SymbolView, ...errorResponses('DylibNotFound', 'SymbolsNotFound', 'FailedToMaterialize') },
        responseDescriptions: { 200: 'The symbol, resolved.' },
      },
    },
    async (request) => session(request).getSymbol(request.params.dylib, request.params.symbol),
  );

  app.post(
    '/dylibs/:dylib/lookup',
    {
      config: { access: 'read' },
      schema: {
        operationId: 'lookupSymbols',
        summary: 'Look symbols up through the link order, all or nothing',
        tags,
        params: DylibParams,
        body: LookupBody,
        response: { 200: SymbolList, ...errorResponses('DylibNotFound', 'SymbolsNotFound', 'FailedToMaterialize') },
        responseDescriptions: { 200: 'The symbols, resolved, in the order asked.' },
      },
    },
    async (request) => ({ symbols: await session(request).lookup(request.params.dylib, request.body.symbols) }),
  );
};
