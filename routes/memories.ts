// Reading and writing a memory symbol's bytes (base64 on the wire). The memory is named in the
// path, or in the query string (read) / body (write) for names awkward in a path.

import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { DylibParams, SymbolParams } from '../schemas/common.ts';
import { errorResponses } from '../schemas/errors.ts';
import {
  MemoryReadByNameQuery,
  MemoryReadQuery,
  MemoryReadResult,
  MemoryWriteBody,
  MemoryWriteByNameBody,
  MemoryWriteResult,
} from '../schemas/memory.ts';
import type { JITService } from '../src/service/JITService.ts';
import type { RouteDeps } from './deps.ts';

const tags = ['memories'];
// BadRequest includes a range outside the memory; TypeMismatch a symbol that is not a memory.
const errors = errorResponses('TypeMismatch', 'DylibNotFound', 'SymbolsNotFound', 'FailedToMaterialize');
const read = { 200: 'The bytes read (base64) and the memory\'s current size.' };
const written = { 200: 'Where the bytes were written and how many.' };

export const memoryRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, { session }) => {
  async function write(service: JITService, dylib: string, symbol: string, offset: number, base64: string) {
    const bytes = Buffer.from(base64, 'base64');
    await service.writeMemory(dylib, symbol, offset, bytes);
    return { offset, length: bytes.byteLength };
  }

  app.get(
    '/dylibs/:dylib/memories/:symbol',
    {
      config: { access: 'read' },
      schema: {
        operationId: 'readMemory',
        summary: "Read a memory's bytes",
        tags,
        params: SymbolParams,
        querystring: MemoryReadQuery,
        response: { 200: MemoryReadResult, ...errors },
        responseDescriptions: read,
      },
    },
    async (request) => session(request).readMemory(request.params.dylib, request.params.symbol, request.query.offset ?? 0, request.query.length),
  );

  app.get(
    '/dylibs/:dylib/memories',
    {
      config: { access: 'read' },
      schema: {
        operationId: 'readMemoryByName',
        summary: "Read a memory's bytes, the memory named in the query string",
        tags,
        params: DylibParams,
        querystring: MemoryReadByNameQuery,
        response: { 200: MemoryReadResult, ...errors },
        responseDescriptions: read,
      },
    },
    async (request) => session(request).readMemory(request.params.dylib, request.query.symbol, request.query.offset ?? 0, request.query.length),
  );

  app.put(
    '/dylibs/:dylib/memories/:symbol',
    {
      config: { access: 'write' },
      schema: {
        operationId: 'writeMemory',
        summary: "Write bytes into a memory",
        tags,
        params: SymbolParams,
        body: MemoryWriteBody,
        response: { 200: MemoryWriteResult, ...errors },
        responseDescriptions: written,
      },
    },
    async (request) => write(session(request), request.params.dylib, request.params.symbol, request.body.offset, request.body.base64),
  );

  app.put(
    '/dylibs/:dylib/memories',
    {
      config: { access: 'write' },
      schema: {
        operationId: 'writeMemoryByName',
        summary: 'Write bytes into a memory named in the body',
        tags,
        params: DylibParams,
        body: MemoryWriteByNameBody,
        response: { 200: MemoryWriteResult, ...errors },
        responseDescriptions: written,
      },
    },
    async (request) => write(session(request), request.params.dylib, request.body.symbol, request.body.offset, request.body.base64),
  );
};
