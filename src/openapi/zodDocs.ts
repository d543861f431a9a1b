// How zod schemas become JSON Schema in the OpenAPI document: fastify-type-provider-zod's
// conversion, with an override that shows what schemas/docs.ts registers in place of the runtime
// schema (booleans for coerced query strings, ArgValue for raw invoke arguments). Passing an
// override replaces the library's own, so the parts of it this project's schemas need are
// repeated here: empty union branches dropped, `z.undefined()` shown as null (a 204's "no body").

import { z } from 'zod';
import { documentedAs } from '../../schemas/docs.ts';

type JsonSchema = Record<string, unknown>;

const COMPONENTS = '#/components/schemas/';

/** The JSON schema the document shows for `shown`: a reference when it is a named component. */
function shownJson(shown: z.core.$ZodType): JsonSchema {
  const id = z.globalRegistry.get(shown)?.id;
  if (id !== undefined) return { $ref: `${COMPONENTS}${id}` };
  const { $schema: _drop, ...json } = z.toJSONSchema(shown, { target: 'draft-2020-12', io: 'input' }) as JsonSchema;
  return json;
}

function override(ctx: { zodSchema: unknown; jsonSchema: JsonSchema }): void {
  const zodSchema = ctx.zodSchema as z.core.$ZodType;
  const json = ctx.jsonSchema;
  const shown = documentedAs.get(zodSchema);
  if (shown !== undefined) {
    // Keep what the runtime schema was described with; the shape is the documented one.
    const description = json['description'];
    for (const key of Object.keys(json)) delete json[key];
    Object.assign(json, shownJson(shown), description === undefined ? {} : { description });
    return;
  }
  const type = zodSchema._zod.def.type;
  if (type === 'union' && Array.isArray(json['anyOf'])) {
    json['anyOf'] = (json['anyOf'] as JsonSchema[]).filter((branch) => Object.keys(branch).length > 0);
  }
  if (type === 'undefined') json['type'] = 'null';
}

/** The `zodToJsonConfig` for createJsonSchemaTransform and createJsonSchemaTransformObject. */
export const zodToJsonConfig = { override };
