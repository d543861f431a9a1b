// The admin routes: tenants (create, list, show, change limits, delete with everything they
// defined) and their API keys (create: the key is shown once; list; revoke). Admin token only.

import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorResponses } from '../schemas/errors.ts';
import {
  CreateKeyBody,
  CreateTenantBody,
  KeyList,
  KeyParams,
  NewKeyView,
  PatchTenantBody,
  TenantList,
  TenantParams,
  TenantView,
  type TenantLimits,
} from '../schemas/tenant.ts';
import type { Service } from '../src/service/Service.ts';
import type { TenantRecord } from '../src/store/Store.ts';
import type { RouteDeps } from './deps.ts';

const tags = ['tenants'];
const access = 'admin' as const;

function view(service: Service, t: TenantRecord): TenantView {
  return {
    name: t.name,
    limits: t.limits,
    effectiveLimits: service.sessions.effectiveLimits(t.limits),
    usage: service.sessions.usage(t.name),
    createdAt: t.createdAt,
  };
}

export const tenantRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, { service }) => {
  app.post(
    '/tenants',
    {
      config: { access },
      schema: {
        operationId: 'createTenant',
        summary: 'Create a tenant',
        tags,
        body: CreateTenantBody,
        response: { 201: TenantView, ...errorResponses('TenantExists') },
        responseDescriptions: { 201: 'The new tenant.' },
      },
    },
    async (request, reply) => {
      const t = await service.sessions.createTenant(request.body.name, request.body.limits ?? {});
      return reply.code(201).send(view(service, t));
    },
  );

  app.get(
    '/tenants',
    {
      config: { access },
      schema: { operationId: 'listTenants', summary: 'List tenants', tags, response: { 200: TenantList }, responseDescriptions: { 200: 'Every tenant.' } },
    },
    async () => ({ tenants: (await service.sessions.listTenants()).map((t) => view(service, t)) }),
  );

  app.get(
    '/tenants/:tenant',
    {
      config: { access },
      schema: {
        operationId: 'getTenant',
        summary: 'Show a tenant',
        tags,
        params: TenantParams,
        response: { 200: TenantView, ...errorResponses('TenantNotFound') },
        responseDescriptions: { 200: 'The tenant: its limits, those in force and its usage.' },
      },
    },
    async (request) => view(service, await service.sessions.findTenant(request.params.tenant)),
  );

  app.patch(
    '/tenants/:tenant',
    {
      config: { access },
      schema: {
        operationId: 'updateTenant',
        summary: "Change a tenant's limits",
        tags,
        params: TenantParams,
        body: PatchTenantBody,
        response: { 200: TenantView, ...errorResponses('TenantNotFound') },
        responseDescriptions: { 200: 'The tenant with its new limits.' },
      },
    },
    async (request) => {
      const current = (await service.sessions.findTenant(request.params.tenant)).limits;
      const merged: Record<string, number> = { ...(current as Record<string, number>) };
      for (const [k, v] of Object.entries(request.body.limits)) {
        if (v === null) delete merged[k];
        else if (v !== undefined) merged[k] = v;
      }
      return view(service, await service.sessions.updateTenant(request.params.tenant, merged as TenantLimits));
    },
  );

  app.delete(
    '/tenants/:tenant',
    {
      config: { access },
      schema: {
        operationId: 'deleteTenant',
        summary: 'Delete a tenant with its dylibs, modules and keys',
        tags,
        params: TenantParams,
        response: { 204: z.undefined().describe('Deleted.'), ...errorResponses('TenantNotFound') },
      },
    },
    async (request, reply) => {
      await service.sessions.deleteTenant(request.params.tenant);
      return reply.code(204).send();
    },
  );

  app.post(
    '/tenants/:tenant/keys',
    {
      config: { access },
      schema: {
        operationId: 'createKey',
        summary: 'Create an API key (shown once)',
        tags,
        params: TenantParams,
        body: CreateKeyBody,
        response: { 201: NewKeyView, ...errorResponses('TenantNotFound') },
        responseDescriptions: { 201: 'The key, with the key itself: the only time it is shown.' },
      },
    },
    async (request, reply) => reply.code(201).send(await service.keys.create(request.params.tenant, request.body)),
  );

  app.get(
    '/tenants/:tenant/keys',
    {
      config: { access },
      schema: {
        operationId: 'listKeys',
        summary: "List a tenant's keys",
        tags,
        params: TenantParams,
        response: { 200: KeyList, ...errorResponses('TenantNotFound') },
        responseDescriptions: { 200: "The tenant's keys, without the keys themselves." },
      },
    },
    async (request) => ({ keys: await service.keys.list(request.params.tenant) }),
  );

  app.delete(
    '/tenants/:tenant/keys/:id',
    {
      config: { access },
      schema: {
        operationId: 'revokeKey',
        summary: 'Revoke a key (at once)',
        tags,
        params: KeyParams,
        response: { 204: z.undefined().describe('Revoked.'), ...errorResponses('TenantNotFound', 'NotFound') },
      },
    },
    async (request, reply) => {
      await service.keys.revoke(request.params.tenant, request.params.id);
      return reply.code(204).send();
    },
  );
};
