// Invoking a function, symbol in the path or in the body. The per-call time limit is the
// server's default unless the request asks for less; it can never exceed the server maximum.

import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { DylibParams, SymbolParams } from '../schemas/common.ts';
import { errorResponses, isApiErrorCode } from '../schemas/errors.ts';
import { InvokeBody, InvokeByNameBody, InvokeResult } from '../schemas/invoke.ts';
import type { JITService } from '../src/service/JITService.ts';
import type { RouteDeps } from './deps.ts';
import { fastDylibParams, fastInvokeBody, fastInvokeByNameBody, fastSymbolParams, invokeSerializerCompiler, invokeValidatorCompiler } from './invokeWire.ts';

const tags = ['invoke'];
const responses = {
  200: InvokeResult,
  ...errorResponses(
    'TypeMismatch',
    'DylibNotFound',
    'SymbolsNotFound',
    'Trap',
    'StackOverflow',
    'ExecutionTimeout',
    'ResourceExhausted',
    'FailedToMaterialize',
  ),
};
const responseDescriptions = { 200: "The function's results, what the call compiled, its output and timing." };

export const invokeRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, { session, metrics }) => {
  // Promise callbacks rather than an async wrapper: one promise fewer on the hot route.
  function invoke(service: JITService, dylib: string, symbol: string, args: readonly unknown[], timeoutMs: number | undefined) {
    const started = performance.now();
    // The session clamps the limit to the tenant's maximum: one place.
    return service.invoke(dylib, symbol, args, { timeoutMs }).then(
      (result) => {
        metrics.observeInvoke('ok', (performance.now() - started) / 1000);
        return result;
      },
      (err: unknown) => {
        const code: unknown = (err as { code?: unknown } | null)?.code;
        metrics.observeInvoke(isApiErrorCode(code) ? code : 'Internal', (performance.now() - started) / 1000);
        throw err;
      },
    );
  }

  app.post(
    '/dylibs/:dylib/symbols/:symbol/invoke',
    {
      config: { access: 'invoke' },
      validatorCompiler: invokeValidatorCompiler({ params: fastSymbolParams, body: fastInvokeBody }),
      serializerCompiler: invokeSerializerCompiler(),
      schema: {
        operationId: 'invokeSymbol',
        summary: 'Call a function',
        tags,
        params: SymbolParams,
        body: InvokeBody,
        response: responses,
        responseDescriptions,
      },
    },
    (request) => invoke(session(request), request.params.dylib, request.params.symbol, request.body.args, request.body.timeoutMs),
  );

  app.post(
    '/dylibs/:dylib/invoke',
    {
      config: { access: 'invoke' },
      validatorCompiler: invokeValidatorCompiler({ params: fastDylibParams, body: fastInvokeByNameBody }),
      serializerCompiler: invokeSerializerCompiler(),
      schema: {
        operationId: 'invokeByName',
        summary: 'Call a function named in the body',
        tags,
        params: DylibParams,
        body: InvokeByNameBody,
        response: responses,
        responseDescriptions,
      },
    },
    (request) => invoke(session(request), request.params.dylib, request.body.symbol, request.body.args, request.body.timeoutMs),
  );
};
