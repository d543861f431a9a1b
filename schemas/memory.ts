// Reading and writing a memory symbol's bytes. Symbol names may be anything, so besides the
// path forms there are forms naming the memory in the query string (read) or body (write).

import { z } from 'zod';
import { base64Field } from './base64.ts';
import { QueryUint, SymbolName } from './common.ts';

export const MemoryReadQuery = z.object({
  offset: QueryUint.optional().describe('First byte to read (default 0).'),
  length: QueryUint.optional().describe('Bytes to read (default: to the end of the memory).'),
});
export type MemoryReadQuery = z.infer<typeof MemoryReadQuery>;

export const MemoryReadByNameQuery = MemoryReadQuery.extend({ symbol: SymbolName });
export type MemoryReadByNameQuery = z.infer<typeof MemoryReadByNameQuery>;

export const MemoryReadResult = z.object({
  offset: z.number().int(),
  length: z.number().int(),
  base64: z.string(),
  pages: z.number().int().describe("The memory's current size in 64 KiB pages."),
});
export type MemoryReadResult = z.infer<typeof MemoryReadResult>;

const offset = z.number().int().min(0).default(0);
const base64 = base64Field('The bytes to write.');

export const MemoryWriteBody = z.object({ offset, base64 });
export type MemoryWriteBody = z.infer<typeof MemoryWriteBody>;

export const MemoryWriteByNameBody = z.object({ symbol: SymbolName, offset, base64 });
export type MemoryWriteByNameBody = z.infer<typeof MemoryWriteByNameBody>;

export const MemoryWriteResult = z.object({
  offset: z.number().int(),
  length: z.number().int().describe('Bytes written.'),
});
export type MemoryWriteResult = z.infer<typeof MemoryWriteResult>;
