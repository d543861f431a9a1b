// The document as a whole, after @fastify/swagger assembled it: where to send requests
// (servers), and the schema components reduced to those an operation uses. The zod transform
// emits every registered schema twice, as input (`<Id>Input`) and output (`<Id>`); twins that
// are the same schema become one, and components nothing references are dropped.

import type { SwaggerTransformObject } from '@fastify/swagger';
import type { OpenAPIV3_1 } from 'openapi-types';

type Json = Record<string, unknown>;

const REF_PREFIX = '#/components/schemas/';
const INPUT = 'Input';

export interface DocumentOptions {
  /** Where clients send requests; relative URLs resolve against where the document was fetched. */
  readonly servers: readonly { readonly url: string; readonly description: string }[];
}

/** Every `$ref` to a component schema under `value`. */
function refsIn(value: unknown, out: Set<string>): Set<string> {
  if (Array.isArray(value)) for (const v of value) refsIn(v, out);
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string' && v.startsWith(REF_PREFIX)) out.add(v.slice(REF_PREFIX.length));
      else refsIn(v, out);
    }
  }
  return out;
}

/** The document with every reference to `from` pointing at `to` instead. */
function renameRefs<T>(doc: T, renames: ReadonlyMap<string, string>): T {
  if (renames.size === 0) return doc;
  return JSON.parse(JSON.stringify(doc), (key, value: unknown) =>
    key === '$ref' && typeof value === 'string' && value.startsWith(REF_PREFIX)
      ? REF_PREFIX + (renames.get(value.slice(REF_PREFIX.length)) ?? value.slice(REF_PREFIX.length))
      : value,
  ) as T;
}

/** Input twins identical to their output schema (once their own references are renamed too). */
function identicalTwins(schemas: Readonly<Record<string, unknown>>): Map<string, string> {
  const candidates = new Map<string, string>();
  for (const id of Object.keys(schemas)) {
    const base = id.slice(0, -INPUT.length);
    if (id.endsWith(INPUT) && base !== '' && schemas[base] !== undefined) candidates.set(id, base);
  }
  const merged = new Map<string, string>();
  for (const [twin, base] of candidates) {
    if (JSON.stringify(renameRefs(schemas[twin], candidates)) === JSON.stringify(schemas[base])) merged.set(twin, base);
  }
  return merged;
}

/** Drops component schemas no operation reaches (directly or through other components). */
function pruneComponents(doc: Json): void {
  const components = doc['components'] as Json | undefined;
  const schemas = components?.['schemas'] as Record<string, unknown> | undefined;
  if (components === undefined || schemas === undefined) return;
  const { components: _components, ...rest } = doc;
  const { schemas: _schemas, ...otherComponents } = components;
  const reached = refsIn([rest, otherComponents], new Set());
  const queue = [...reached];
  for (let id = queue.pop(); id !== undefined; id = queue.pop()) {
    for (const next of refsIn(schemas[id], new Set())) {
      if (!reached.has(next)) {
        reached.add(next);
        queue.push(next);
      }
    }
  }
  const kept = Object.fromEntries(Object.entries(schemas).filter(([id]) => reached.has(id)));
  components['schemas'] = kept;
}

export function documentTransform(base: SwaggerTransformObject, opts: DocumentOptions): SwaggerTransformObject {
  return (input) => {
    let doc = base(input) as Json;
    const schemas = ((doc['components'] as Json | undefined)?.['schemas'] ?? {}) as Record<string, unknown>;
    const twins = identicalTwins(schemas);
    doc = renameRefs(doc, twins);
    const components = doc['components'] as Json | undefined;
    if (components !== undefined) {
      const renamed = components['schemas'] as Record<string, unknown>;
      for (const twin of twins.keys()) delete renamed[twin];
    }
    pruneComponents(doc);
    const { openapi, info, ...rest } = doc;
    return { openapi, info, servers: opts.servers.map((s) => ({ ...s })), ...rest } as Partial<OpenAPIV3_1.Document>;
  };
}
