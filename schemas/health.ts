// Health: the process answers, its store is reachable and recovery is done (200), or what it is
// waiting for (503): recovery's progress at start, or the store being unreachable.

import { z } from 'zod';

export const Health = z.object({ status: z.literal('ok') }).describe('Serving.');
export type Health = z.infer<typeof Health>;

const Counts = z.object({ dylibs: z.number().int(), modules: z.number().int(), reexports: z.number().int() });

export const Unhealthy = z
  .object({
    status: z.enum(['recovering', 'unavailable']),
    recovery: z
      .object({
        tenantsDone: z.number().int(),
        tenants: z.number().int(),
        current: z.string().optional(),
        definitions: Counts.describe('Definitions made again so far.'),
      })
      .optional()
      .describe('While recovering: how far it got.'),
    reason: z.string().optional().describe('When unavailable: why.'),
  })
  .describe('Not serving yet (recovering at start) or not now (the store is unreachable).');
export type Unhealthy = z.infer<typeof Unhealthy>;
