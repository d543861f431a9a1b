// POST /dylibs/:dylib/modules: add a module as JSON ({"wat"} or {"wasm": base64}) or as a raw
// body (application/wasm binary, text/plain WAT) with its options in the query string. The raw
// forms are parsed into the JSON shape here, so one schema validates all of them.

import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DylibParams, ModuleParams } from '../schemas/common.ts';
import { errorResponses, HttpError } from '../schemas/errors.ts';
import { AddModuleBody, AddModuleQuery, AddModuleResult, MODULE_DEFAULTS } from '../schemas/module.ts';
import type { RouteDeps } from './deps.ts';

const WASM_TYPES = ['application/wasm', 'application/octet-stream'];

export const moduleRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, { session, config }) => {
  // Encapsulated: these parsers only apply to this plugin's routes.
  app.addContentTypeParser(WASM_TYPES, { parseAs: 'buffer' }, (_request, body, done) => {
    done(null, { wasm: body });
  });
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('text/plain', { parseAs: 'string' }, (_request, body, done) => {
    done(null, { wat: body });
  });

  app.post(
    '/dylibs/:dylib/modules',
    {
      config: { access: 'write' },
      schema: {
        summary: 'Add a module to a dylib',
        description:
          'JSON body {"wat"} or {"wasm": base64} with "lazy" (default true), "optimize" 0..4 (default 2) and "name"; ' +
          'or a raw body with Content-Type application/wasm (binary) or text/plain (WAT), options in the query string.',
        operationId: 'addModule',
        tags: ['modules'],
        params: DylibParams,
        querystring: AddModuleQuery,
        // The document lists a schema per Content-Type (schemas/module.ts registers them).
        body: AddModuleBody,
        response: {
          201: AddModuleResult,
          ...errorResponses(
            'DylibNotFound',
            // The implementation dylib's name is another dylib's.
            'DylibExists',
            'DuplicateDefinition',
            'InvalidModule',
            // The start function's.
            'Trap',
            'StackOverflow',
            'ExecutionTimeout',
            'ResourceExhausted',
            // A memory, table or global import that resolves nowhere.
            'FailedToMaterialize',
          ),
        },
        responseDescriptions: { 201: 'The module, the symbols it defined and the function imports that resolve nowhere yet.' },
      },
    },
    async (request, reply) => {
      const { body, query } = request;
      const { wat, wasm } = body;
      // The schema guarantees exactly one of wat and wasm.
      const bytes = typeof wasm === 'string' ? Buffer.from(wasm, 'base64') : wasm;
      const source: { wat: string } | { wasm: Uint8Array } = wat !== undefined ? { wat } : { wasm: bytes ?? new Uint8Array() };
      const size = wat !== undefined ? Buffer.byteLength(wat) : (bytes?.byteLength ?? 0);
      if (size > config.maxModuleBytes) {
        throw new HttpError(
          'PayloadTooLarge',
          `The module is ${size} bytes, over the limit of ${config.maxModuleBytes} bytes.`,
          { limit: config.maxModuleBytes, size },
        );
      }
      const result = await session(request).addModule(request.params.dylib, source, {
        lazy: body.lazy ?? query.lazy ?? MODULE_DEFAULTS.lazy,
        optimize: body.optimize ?? query.optimize ?? MODULE_DEFAULTS.optimize,
        name: body.name ?? query.name,
      });
      return reply.code(201).send(result);
    },
  );

  app.delete(
    '/dylibs/:dylib/modules/:module',
    {
      config: { access: 'write' },
      schema: {
        operationId: 'removeModule',
        summary: 'Remove one module',
        description:
          "Removes the module's symbols, bodies, stubs, memories and compiled code, as ORC removes a ResourceTracker. " +
          'What other modules import from it resolves again at their next materialization.',
        tags: ['modules'],
        params: ModuleParams,
        response: { 204: z.undefined().describe('Removed.'), ...errorResponses('DylibNotFound', 'ModuleNotFound') },
      },
    },
    async (request, reply) => {
      await session(request).removeModule(request.params.dylib, request.params.module);
      return reply.code(204).send();
    },
  );
};
