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
