// Dylib lifecycle: create, list, show, change link order, remove.

import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DylibParams } from '../schemas/common.ts';
import { CreateDylibBody, DylibList, DylibQuery, DylibView, LinkOrderBody } from '../schemas/dylib.ts';
import { errorResponses } from '../schemas/errors.ts';
import type { RouteDeps } from './deps.ts';

const tags = ['dylibs'];

export const dylibRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, { session }) => {
  app.post(
    '/dylibs',
    {
      config: { access: 'write' },
      schema: {
        operationId: 'createDylib',
        summary: 'Create a dylib',
        tags,
        body: CreateDylibBody,
        response: { 201: DylibView, ...errorResponses('DylibNotFound', 'DylibExists', 'ResourceExhausted') },
        responseDescriptions: { 201: 'The new dylib.' },
      },
    },
    async (request, reply) => {
      const { name, linkOrder } = request.body;
      return reply.code(201).send(await session(request).createDylib(name, linkOrder));
    },
  );

  app.get(
    '/dylibs',
    {
      config: { access: 'read' },
      schema: {
        operationId: 'listDylibs',
        summary: 'List every dylib, implementation dylibs included',
        tags,
        querystring: DylibQuery,
        response: { 200: DylibList },
        responseDescriptions: { 200: 'Every dylib of the session.' },
      },
    },
    async (request) => ({ dylibs: session(request).listDylibs({ hidden: request.query.hidden ?? false }) }),
  );

  app.get(
    '/dylibs/:dylib',
    {
      config: { access: 'read' },
      schema: {
        operationId: 'getDylib',
        summary: 'Show a dylib',
        tags,
        params: DylibParams,
        querystring: DylibQuery,
        response: { 200: DylibView, ...errorResponses('DylibNotFound') },
        responseDescriptions: { 200: 'The dylib.' },
      },
    },
    async (request) => session(request).getDylib(request.params.dylib, { hidden: request.query.hidden ?? false }),
  );

  app.put(
    '/dylibs/:dylib/link-order',
    {
      config: { access: 'write' },
      schema: {
        operationId: 'setLinkOrder',
        summary: "Replace a dylib's link order",
        tags,
        params: DylibParams,
        body: LinkOrderBody,
        response: { 200: DylibView, ...errorResponses('DylibNotFound') },
        responseDescriptions: { 200: 'The dylib with its new link order.' },
      },
    },
    async (request) => session(request).setLinkOrder(request.params.dylib, request.body.linkOrder),
  );

  app.delete(
    '/dylibs/:dylib',
    {
      config: { access: 'write' },
      schema: {
        operationId: 'removeDylib',
        summary: 'Remove a dylib, its symbols and its implementation dylib',
        tags,
        params: DylibParams,
        response: { 204: z.undefined().describe('Removed.'), ...errorResponses('DylibNotFound') },
      },
    },
    async (request, reply) => {
      await session(request).removeDylib(request.params.dylib);
      return reply.code(204).send();
    },
  );
};
