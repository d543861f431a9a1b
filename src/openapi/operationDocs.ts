// Per-operation documentation, wrapped around the zod schema transform: the error responses
// (errorDocs.ts), a description for every other response (the route's `responseDescriptions`,
// else the schema's own description when it is not a named component), and one request schema
// per Content-Type where schemas/docs.ts registers them. A route without an operationId, or a
// response without a description, fails the document rather than shipping "Default Response".

import type { SwaggerTransform } from '@fastify/swagger';
import type { FastifySchema } from 'fastify';
import { z } from 'zod';
import { bodyMedia } from '../../schemas/docs.ts';
import { documentErrors } from './errorDocs.ts';

declare module 'fastify' {
  interface FastifySchema {
    /** What each non-error response means, for the OpenAPI document (by status). */
    responseDescriptions?: Readonly<Partial<Record<number, string>>>;
  }
}

type JsonSchema = Record<string, unknown>;

/** Thrown while building the document: a route's schema lacks what the document needs. */
export class RouteDocsError extends Error {
  constructor(route: string, problem: string) {
    super(`${route}: ${problem}`);
    this.name = 'RouteDocsError';
  }
}

/** The description a non-error response gets: given, or the schema's own unless it is a component's. */
function responseDescription(schema: unknown, given: string | undefined): string | undefined {
  if (given !== undefined) return given;
  if (!(schema instanceof z.core.$ZodType)) return (schema as { description?: string } | null)?.description;
  const meta = z.globalRegistry.get(schema);
  return meta?.id === undefined ? meta?.description : undefined;
}

export function withOperationDocs<S extends FastifySchema>(transform: SwaggerTransform<S>, opts: { authOn: boolean }): SwaggerTransform<S> {
  return (input) => {
    const schema = input.schema as FastifySchema | undefined;
    if (schema === undefined || schema.hide === true) return transform(input);
    const { route } = input;
    const name = `${String(route.method)} ${input.url}`;
    if (schema.operationId === undefined) throw new RouteDocsError(name, 'no operationId');
    const { responseDescriptions = {}, ...rest } = schema;
    const method = String(route.method).toUpperCase();
    const response = documentErrors((rest.response as Record<string, unknown> | undefined) ?? {}, {
      access: route.config?.access,
      authOn: opts.authOn,
      takesInput: method !== 'GET' || rest.params !== undefined || rest.querystring !== undefined,
      hasBody: rest.body !== undefined,
    });

    const descriptions = new Map<string, string>();
    for (const [status, s] of Object.entries(response)) {
      const d = responseDescription(s, responseDescriptions[Number(status)]);
      if (d === undefined) throw new RouteDocsError(name, `response ${status} has no description (responseDescriptions)`);
      descriptions.set(status, d);
    }

    const media = rest.body instanceof z.core.$ZodType ? bodyMedia.get(rest.body) : undefined;
    const { consumes: _consumes, ...withoutConsumes } = rest;
    const base = media === undefined ? rest : { ...withoutConsumes, body: undefined };
    const out = transform({ ...input, schema: { ...base, response } as S });
    const outSchema = out.schema as FastifySchema & { body?: unknown; response?: Record<string, JsonSchema> };

    if (media !== undefined) {
      // Each media type's schema through the same conversion as any body.
      const jsonOf = (s: z.core.$ZodType) => (transform({ ...input, schema: { body: s } as S }).schema as { body: unknown }).body;
      outSchema.body = { content: Object.fromEntries(Object.entries(media).map(([type, s]) => [type, { schema: jsonOf(s) }])) };
    }

    const produces = schema.produces ?? ['application/json'];
    for (const [status, json] of Object.entries(outSchema.response ?? {})) {
      const description = descriptions.get(status) as string;
      if (typeof json['content'] === 'object' || json['type'] === 'null') {
        json['description'] = description;
      } else {
        // A bare schema (often a $ref) cannot carry the response's description: give it its content.
        outSchema.response = {
          ...outSchema.response,
          [status]: { description, content: Object.fromEntries(produces.map((type) => [type, { schema: json }])) },
        };
      }
    }
    return out;
  };
}
