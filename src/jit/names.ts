// The names the JIT gives what it defines itself, beside a module's own export names: a
// module's initializer symbol, the stub and body of a function it does not export, and the
// implementation dylib of a dylib. They contain characters no toolchain writes in an export of
// its own (":", "[") so they rarely collide; they are not Exported, so no client can find them.

export const IMPL_SUFFIX = '.impl';

export function initSymbolName(moduleId: string): string {
  return `${moduleId}:init`;
}

export function privateFunctionSymbolName(moduleId: string, index: number): string {
  return `${moduleId}:func[${index}]`;
}

/** The function index in a private function symbol name of module `moduleId`, if `name` is one. */
export function privateFunctionIndex(moduleId: string, name: string): number | undefined {
  const head = moduleId.length + 6; // `${moduleId}:func[`
  if (name.length <= head + 1 || !name.startsWith(moduleId) || !name.startsWith(':func[', moduleId.length) || !name.endsWith(']')) return undefined;
  const digits = name.slice(head, -1);
  // Canonical decimal only: "007" or "1e3" names no function.
  if (!/^(0|[1-9][0-9]*)$/.test(digits)) return undefined;
  return Number(digits);
}
