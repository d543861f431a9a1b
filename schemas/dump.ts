// The session dump: text (ORC ExecutionSession::dump style) or JSON, which carries the same
// facts as the dylib views.

import { z } from 'zod';
import { DylibView } from './dylib.ts';

export const DumpQuery = z.object({
  format: z.enum(['text', 'json']).default('text'),
});
export type DumpQuery = z.infer<typeof DumpQuery>;

export const SessionDump = z
  .object({ dylibs: z.array(DylibView) })
  .describe('Every dylib of the execution session, implementation dylibs included.');
export type SessionDump = z.infer<typeof SessionDump>;
