// What the OpenAPI document says about authentication when ADMIN_TOKEN is set: the bearer scheme
// (an API key or the admin token) and, for each operation, the access its route declares
// (`config.access`, the same value the auth hook enforces, so the document cannot drift from
// what the server checks): `security: []` for public routes, `[{bearer: [access]}]` otherwise
// (OpenAPI 3.1 lets a non-OAuth requirement list role names) and `x-access` naming it; the
// 401/403/429 answers authentication can give are src/openapi/errorDocs.ts's. Without
// ADMIN_TOKEN nothing is checked, so the document declares nothing.

import type { SwaggerTransform } from '@fastify/swagger';
import type { FastifySchema } from 'fastify';
import type { RouteAccess } from './tenants/Authenticator.ts';

export const BEARER_SCHEME = 'bearer';

export const bearerSecurityScheme = {
  type: 'http',
  scheme: 'bearer',
  description:
    "A tenant's API key (wjk_...) with the scope the operation lists, or the admin token. The admin token acts in a " +
    "tenant's session only with the header X-Tenant: <tenant>.",
} as const;

const ACCESS_DESCRIPTIONS: Readonly<Record<RouteAccess, string>> = {
  public: 'Public: no key needed.',
  read: 'Needs a key with the "read" scope (or the admin token with X-Tenant).',
  write: 'Needs a key with the "write" scope (or the admin token with X-Tenant).',
  invoke: 'Needs a key with the "invoke" scope (or the admin token with X-Tenant).',
  admin: 'Needs the admin token; tenant keys get Forbidden.',
};

type SchemaWithAccessDocs = FastifySchema & { description?: string; 'x-access'?: RouteAccess };

/**
 * Wraps the schema transform the OpenAPI document is built with so each operation carries its
 * route's access. `authOn` false: the transform is returned as it is.
 */
export function withAccessDocs<S extends FastifySchema>(transform: SwaggerTransform<S>, authOn: boolean): SwaggerTransform<S> {
  if (!authOn) return transform;
  return (input) => {
    const access = input.route.config?.access;
    if (access === undefined || input.schema === undefined) return transform(input);
    const schema: SchemaWithAccessDocs = { ...input.schema };
    schema.security = access === 'public' ? [] : [{ [BEARER_SCHEME]: [access] }];
    schema['x-access'] = access;
    schema.description = [schema.description, ACCESS_DESCRIPTIONS[access]].filter(Boolean).join(' ');
    return transform({ ...input, schema: schema as S });
  };
}
