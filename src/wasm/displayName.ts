// The name a function goes by in trap stack traces and in the name sections of the pieces cut
// from its module: what the module's own name section calls it, else the first name it is
// exported under, else `func[<index>]`. The decode indexes export names by function
// (ModuleBinary.firstExportNames), so naming one function costs a lookup however many functions
// the module has, the first time as every other.

import type { ModuleBinary } from './moduleBinary.ts';

/** The name a trap stack shows for function `index`: the name section's name, else its first export name, else `func[<index>]`. */
export function displayName(binary: ModuleBinary, index: number): string {
  if (!Number.isInteger(index) || index < 0 || index >= binary.funcTypes.length) {
    throw new RangeError(`displayName: ${index} is not a function of the module`);
  }
  // An empty name would show nothing in a stack trace: fall through to the next choice.
  const named = binary.functionNames.get(index);
  if (named) return named;
  return binary.firstExportNames[index] || `func[${index}]`;
}
