// Where the OpenAPI document shows something other than what the server parses. The server
// coerces query strings ("true", "1", "on"), takes raw module bodies through content-type
// parsers, and leaves invoke arguments for src/service/values.ts to decode (a wrong one is a
// TypeMismatch, not a schema failure); a generated client should still see booleans, integers,
// bytes and the value forms. These registries say what to show instead; src/openapi/ reads them.

import type { z } from 'zod';

// WeakMaps rather than zod registries: a registry's metadata type rewrites schema types inside it.

/** A runtime schema the document shows as another (the runtime one still validates). */
export const documentedAs = new WeakMap<z.core.$ZodType, z.core.$ZodType>();

/** A body schema whose document lists one schema per Content-Type (the runtime one still validates). */
export const bodyMedia = new WeakMap<z.core.$ZodType, Readonly<Record<string, z.core.$ZodType>>>();

/** Registers `shown` as what the document says `runtime` is; returns `runtime`. */
export function documentAs<T extends z.core.$ZodType>(runtime: T, shown: z.core.$ZodType): T {
  documentedAs.set(runtime, shown);
  return runtime;
}
