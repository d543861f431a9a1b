// Tenants and their keys on the wire (API.md v2, "Tenants and keys"): the admin routes' bodies
// and views.

import { z } from 'zod';

export const TenantName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'must be 1 to 64 of A-Z a-z 0-9 _ . - (not starting with _ . -)')
  .describe("A tenant's name (it travels in the X-Tenant header, hence the plain alphabet).");

const count = z.number().int().min(1);

export const TenantLimits = z
  .object({
    memoryPages: count.optional().describe('All linear memories of the session together, in 64 KiB pages (takes effect when its executor next starts).'),
    codeBytes: count.optional().describe('Bytes of compiled wasm the session may hold.'),
    callTimeoutMs: count
      .optional()
      .describe("A call's time limit, and the most a request's timeoutMs may ask for (never above the server's MAX_CALL_TIMEOUT_MS)."),
    dylibs: count.optional(),
    modules: count.optional(),
    requestsPerSecond: z.number().int().min(0).optional().describe('0: no limit.'),
  })
  .strict()
  .describe("A tenant's own limits; unset ones take the server's configured defaults.");
export type TenantLimits = z.infer<typeof TenantLimits>;

/** PATCH: given limits replace the tenant's; null sets one back to the server's default. */
export const TenantLimitsPatch = z
  .object({
    memoryPages: count.nullable().optional(),
    codeBytes: count.nullable().optional(),
    callTimeoutMs: count.nullable().optional(),
    dylibs: count.nullable().optional(),
    modules: count.nullable().optional(),
    requestsPerSecond: z.number().int().min(0).nullable().optional(),
  })
  .strict();

export const CreateTenantBody = z.object({ name: TenantName, limits: TenantLimits.optional() });
export const PatchTenantBody = z.object({ limits: TenantLimitsPatch });

export const TenantView = z
  .object({
    name: TenantName,
    limits: TenantLimits.describe('The limits set for the tenant.'),
    effectiveLimits: TenantLimits.required().describe('The limits in force: its own, else the server defaults.'),
    usage: z.object({
      dylibs: z.number().int(),
      modules: z.number().int(),
      codeBytes: z.number().int(),
      live: z.boolean().describe("Whether the tenant's executor is running (it stops when idle)."),
    }),
    createdAt: z.string(),
  })
  .describe('A tenant: its own ExecutionSession and executor.');
export type TenantView = z.infer<typeof TenantView>;
z.globalRegistry.add(TenantView, { id: 'Tenant' });

export const TenantList = z.object({ tenants: z.array(TenantView) });
export const TenantParams = z.object({ tenant: TenantName });
export const KeyParams = z.object({ tenant: TenantName, id: z.string().min(1) });

export const Scope = z.enum(['read', 'write', 'invoke']);

export const CreateKeyBody = z.object({
  name: z.string().min(1).max(256).optional(),
  scopes: z.array(Scope).min(1).optional().describe('Default: all three.'),
});

export const KeyView = z.object({
  id: z.string(),
  name: z.string().optional(),
  scopes: z.array(Scope),
  createdAt: z.string(),
  lastUsedAt: z.string().optional(),
});
export const NewKeyView = KeyView.omit({ lastUsedAt: true }).extend({
  key: z.string().describe('The key itself: shown this once; the service keeps only its hash.'),
});
export const KeyList = z.object({ keys: z.array(KeyView) });
