// The real modules the benchmark runs, in the order it runs them.

import { png } from './png.ts';
import { sha256 } from './sha256.ts';
import { sqlite } from './sqlite.ts';
import type { RealModule } from './target.ts';

export const REAL_MODULES: readonly RealModule[] = [sqlite, png, sha256];

export function realModule(id: string): RealModule | undefined {
  return REAL_MODULES.find((m) => m.id === id);
}
