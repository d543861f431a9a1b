// The name a function goes by in trap stack traces and in the name sections of the pieces cut
// from its module: what the module's own name section calls it, else the first name it is
// exported under, else `func[<index>]`. Export names are indexed once per module binary, so
// naming one function costs a map lookup however many functions the module has.

import type { ModuleBinary } from './moduleBinary.ts';

const firstExportNames = new WeakMap<ModuleBinary, readonly (string | undefined)[]>();

/** By function index (a dense array: cheaper to build than a map for tens of thousands of exports). */
function exportNames(binary: ModuleBinary): readonly (string | undefined)[] {
  let names = firstExportNames.get(binary);
  if (names === undefined) {
    const byIndex = new Array<string | undefined>(binary.funcTypes.length).fill(undefined);
    for (const e of binary.exports) if (e.kind === 'function' && byIndex[e.index] === undefined) byIndex[e.index] = e.name;
    firstExportNames.set(binary, byIndex);
    names = byIndex;
  }
  return names;
}

/** The name a trap stack shows for function `index`: the name section's name, else its first export name, else `func[<index>]`. */
export function displayName(binary: ModuleBinary, index: number): string {
  if (!Number.isInteger(index) || index < 0 || index >= binary.funcTypes.length) {
    throw new RangeError(`displayName: ${index} is not a function of the module`);
  }
  // An empty name would show nothing in a stack trace: fall through to the next choice.
  const named = binary.functionNames.get(index);
  if (named) return named;
  return exportNames(binary)[index] || `func[${index}]`;
}
