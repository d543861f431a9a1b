// Errors as values of named types, as ORC does (SymbolsNotFound, DuplicateDefinition,
// FailedToMaterialize, ...). Every error the service reports to a user is a JITError with a
// stable `code`; the HTTP layer maps codes to statuses and never inspects messages.

export type ErrorCode =
  | 'DylibNotFound'
  | 'ModuleNotFound'
  | 'SymbolsNotFound'
  | 'DylibExists'
  | 'DuplicateDefinition'
  | 'InvalidModule'
  | 'FailedToMaterialize'
  | 'TypeMismatch'
  | 'Trap'
  | 'StackOverflow'
  | 'ExecutionTimeout'
  | 'ResourceExhausted'
  | 'BadRequest';

export abstract class JITError extends Error {
  abstract readonly code: ErrorCode;

  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }

  /** Extra, JSON-safe facts for the client (API.md's "details"). */
  details(): Record<string, unknown> {
    return {};
  }
}

/** A symbol named in an error: which dylib it was looked for or defined in, and its name. */
export interface SymbolRef {
  readonly dylib: string;
  readonly name: string;
}

export class DylibNotFound extends JITError {
  readonly code = 'DylibNotFound';
  readonly dylib: string;
  constructor(dylib: string) {
    super(`No dylib named "${dylib}" exists.`);
    this.dylib = dylib;
  }
  override details() {
    return { dylib: this.dylib };
  }
}

/** A module id that the dylib does not hold (removing a module). */
export class ModuleNotFound extends JITError {
  readonly code = 'ModuleNotFound';
  readonly dylib: string;
  readonly module: string;
  constructor(dylib: string, module: string) {
    super(`Dylib "${dylib}" has no module "${module}".`);
    this.dylib = dylib;
    this.module = module;
  }
  override details() {
    return { dylib: this.dylib, module: this.module };
  }
}

export class DylibExists extends JITError {
  readonly code = 'DylibExists';
  readonly dylib: string;
  constructor(dylib: string) {
    super(`A dylib named "${dylib}" already exists.`);
    this.dylib = dylib;
  }
  override details() {
    return { dylib: this.dylib };
  }
}

export class SymbolsNotFound extends JITError {
  readonly code = 'SymbolsNotFound';
  readonly symbols: readonly string[];
  constructor(symbols: readonly string[], where?: string) {
    super(
      `Symbols not found${where ? ` in the link order of "${where}"` : ''}: ${symbols.map((s) => JSON.stringify(s)).join(', ')}.`,
    );
    this.symbols = symbols;
  }
  override details() {
    return { symbols: this.symbols };
  }
}

export class DuplicateDefinition extends JITError {
  readonly code = 'DuplicateDefinition';
  readonly dylib: string;
  readonly symbols: readonly string[];
  constructor(dylib: string, symbols: readonly string[]) {
    super(`Dylib "${dylib}" already defines ${symbols.map((s) => JSON.stringify(s)).join(', ')}.`);
    this.dylib = dylib;
    this.symbols = symbols;
  }
  override details() {
    return { dylib: this.dylib, symbols: this.symbols };
  }
}

/**
 * Materializing one or more symbols failed. Every lookup that needed them, and every symbol
 * that depended on them, fails with an error of this type carrying the original cause.
 */
export class FailedToMaterialize extends JITError {
  readonly code = 'FailedToMaterialize';
  readonly symbols: readonly SymbolRef[];
  override readonly cause: unknown;
  constructor(symbols: readonly SymbolRef[], cause: unknown) {
    const causeMessage = cause instanceof Error ? cause.message : String(cause);
    super(
      `Failed to materialize ${symbols.map((s) => `${s.dylib}:${JSON.stringify(s.name)}`).join(', ')}: ${causeMessage}`,
    );
    this.symbols = symbols;
    this.cause = cause;
  }
  override details() {
    const cause = this.cause;
    return {
      symbols: this.symbols,
      cause:
        cause instanceof JITError
          ? { code: cause.code, message: cause.message, ...cause.details() }
          : { message: cause instanceof Error ? cause.message : String(cause) },
    };
  }
}

export class InvalidModule extends JITError {
  readonly code = 'InvalidModule';
  readonly diagnostics: readonly string[];
  constructor(message: string, diagnostics: readonly string[]) {
    super(message);
    this.diagnostics = diagnostics;
  }
  override details() {
    return { diagnostics: this.diagnostics };
  }
}

export class TypeMismatch extends JITError {
  readonly code = 'TypeMismatch';
}

export class Trap extends JITError {
  readonly code = 'Trap';
  readonly trap: string;
  /** Wasm function names on the stack, innermost first. */
  readonly wasmStack: readonly string[];
  readonly output: readonly string[];
  constructor(trap: string, wasmStack: readonly string[], output: readonly string[] = []) {
    super(`The wasm code trapped: ${trap}.`);
    this.trap = trap;
    this.wasmStack = wasmStack;
    this.output = output;
  }
  override details() {
    return { trap: this.trap, stack: this.wasmStack, output: this.output };
  }
}

export class StackOverflow extends JITError {
  readonly code = 'StackOverflow';
  /** Wasm function names on the stack, innermost first (truncated). */
  readonly wasmStack: readonly string[];
  constructor(wasmStack: readonly string[] = []) {
    super('The call stack was exhausted.');
    this.wasmStack = wasmStack;
  }
  override details() {
    return { stack: this.wasmStack.slice(0, 16) };
  }
}

export class ExecutionTimeout extends JITError {
  readonly code = 'ExecutionTimeout';
  readonly timeoutMs: number;
  constructor(timeoutMs: number) {
    super(`The call ran past its time limit of ${timeoutMs} ms and was stopped.`);
    this.timeoutMs = timeoutMs;
  }
  override details() {
    return { timeoutMs: this.timeoutMs };
  }
}

export class ResourceExhausted extends JITError {
  readonly code = 'ResourceExhausted';
  readonly limit: string;
  constructor(limit: string, message: string) {
    super(message);
    this.limit = limit;
  }
  override details() {
    return { limit: this.limit };
  }
}
