// Runs one spec script against a SpecTarget and tallies the outcome per command kind. Modules
// are tracked by $name and as "the current module", as the script semantics require: a module
// that fails to instantiate is a failure of its own command, and every later command that uses
// it fails too (or is skipped, if the target skipped the module).

import type { WasmValue } from '../../src/wasm/types.ts';
import { formatExpectedList, matches } from './expected.ts';
import { SpecSkip, type ErrorKind, type SpecTarget } from './SpecTarget.ts';
import { formatValues } from './values.ts';
import { COMMAND_KINDS, loadScript, type Action, type Command, type CommandKind, type ModuleAssertionKind } from './wast.ts';

export interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}

export interface FailureDescription {
  readonly line: number;
  readonly command: string;
  readonly expected: string;
  readonly got: string;
}

export interface ScriptResult {
  /** Script name without directory and `.wast`. */
  readonly script: string;
  readonly path: string;
  readonly counts: Readonly<Record<CommandKind, Counts>>;
  readonly total: Counts;
  /** The first `maxFailures` failures, in script order. */
  readonly failures: readonly FailureDescription[];
  /** Why commands were skipped, with how many each. */
  readonly skipReasons: Readonly<Record<string, number>>;
  /** Set when the script could not be run at all (conversion failed, the target would not start). */
  readonly error?: string;
  readonly durationMs: number;
}

export interface RunOptions {
  /** How many failure descriptions to keep per script (default 10). */
  readonly maxFailures?: number;
  /**
   * Also require a trap's message to contain the script's expected text. Off by default:
   * engines word traps their own way (V8 says "divide by zero" where the spec says "integer
   * divide by zero").
   */
  readonly checkTrapMessages?: boolean;
}

type ModuleState =
  | { readonly status: 'ok'; readonly handle: unknown }
  | { readonly status: 'failed' | 'skipped'; readonly reason: string };

type Verdict =
  | { readonly verdict: 'pass' }
  | { readonly verdict: 'skip'; readonly reason: string }
  | { readonly verdict: 'fail'; readonly expected: string; readonly got: string };

const PASS: Verdict = { verdict: 'pass' };

/** What a module assertion needs the target's error to be classified as. */
const EXPECTED_MODULE_ERROR: Readonly<Record<ModuleAssertionKind, ErrorKind>> = {
  assert_invalid: 'invalid',
  assert_malformed: 'invalid',
  assert_unlinkable: 'link',
  assert_uninstantiable: 'trap',
};

function emptyCounts(): Record<CommandKind, Counts> {
  const counts = {} as Record<CommandKind, Counts>;
  for (const kind of COMMAND_KINDS) counts[kind] = { passed: 0, failed: 0, skipped: 0 };
  return counts;
}

function scriptName(path: string): string {
  return (path.split(/[\\/]/).pop() ?? path).replace(/\.wast$/, '');
}

export async function runScript(
  path: string,
  makeTarget: () => Promise<SpecTarget>,
  options: RunOptions = {},
): Promise<ScriptResult> {
  const started = performance.now();
  const maxFailures = options.maxFailures ?? 10;
  const counts = emptyCounts();
  const failures: FailureDescription[] = [];
  const skipReasons: Record<string, number> = {};
  const finish = (error?: string): ScriptResult => {
    const total = { passed: 0, failed: 0, skipped: 0 };
    for (const c of Object.values(counts)) {
      total.passed += c.passed;
      total.failed += c.failed;
      total.skipped += c.skipped;
    }
    return {
      script: scriptName(path),
      path,
      counts,
      total,
      failures,
      skipReasons,
      ...(error === undefined ? {} : { error }),
      durationMs: performance.now() - started,
    };
  };

  let commands: readonly Command[];
  let target: SpecTarget;
  try {
    commands = (await loadScript(path)).commands;
    target = await makeTarget();
  } catch (err) {
    return finish(err instanceof Error ? err.message : String(err));
  }

  const run = new ScriptRun(target, options);
  try {
    for (const cmd of commands) {
      const kind = cmd.kind === 'skip' ? cmd.countAs : cmd.kind;
      const verdict = cmd.kind === 'skip' ? { verdict: 'skip' as const, reason: cmd.reason } : await run.execute(cmd);
      if (verdict.verdict === 'pass') counts[kind].passed++;
      else if (verdict.verdict === 'skip') {
        counts[kind].skipped++;
        skipReasons[verdict.reason] = (skipReasons[verdict.reason] ?? 0) + 1;
      } else {
        counts[kind].failed++;
        if (failures.length < maxFailures) {
          failures.push({ line: cmd.line, command: describeCommand(cmd), expected: verdict.expected, got: verdict.got });
        }
      }
    }
  } catch (err) {
    // Only the runner's own bugs land here: target errors are verdicts.
    return finish(`runner stopped: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  } finally {
    await target.close().catch(() => {});
  }
  return finish();
}

/** One script's module bookkeeping and the verdict for each command. */
class ScriptRun {
  readonly #target: SpecTarget;
  readonly #options: RunOptions;
  readonly #named = new Map<string, ModuleState>();
  #current: ModuleState | undefined;

  constructor(target: SpecTarget, options: RunOptions) {
    this.#target = target;
    this.#options = options;
  }

  async execute(cmd: Exclude<Command, { kind: 'skip' }>): Promise<Verdict> {
    switch (cmd.kind) {
      case 'module':
        return this.#module(cmd.name, cmd.module.bytes);
      case 'register': {
        const state = this.#lookup(cmd.name);
        if (state.status !== 'ok') return this.#unusable(state, 'registered');
        try {
          await this.#target.register(state.handle, cmd.as);
          return PASS;
        } catch (err) {
          return this.#errorVerdict(err, 'registered');
        }
      }
      case 'action': {
        const outcome = await this.#act(cmd.action);
        if (outcome.verdict) return outcome.verdict;
        if ('error' in outcome) return this.#errorVerdict(outcome.error, 'success');
        return PASS;
      }
      case 'assert_return': {
        const outcome = await this.#act(cmd.action);
        const expected = formatExpectedList(cmd.expected);
        if (outcome.verdict) return outcome.verdict;
        if ('error' in outcome) return this.#errorVerdict(outcome.error, expected);
        const ok = outcome.values.length === cmd.expected.length && cmd.expected.every((e, i) => matches(e, outcome.values[i]!));
        return ok ? PASS : { verdict: 'fail', expected, got: formatValues(outcome.values) };
      }
      case 'assert_trap':
      case 'assert_exhaustion': {
        const want: ErrorKind = cmd.kind === 'assert_trap' ? 'trap' : 'exhaustion';
        const expected = `${want} ${JSON.stringify(cmd.text)}`;
        const outcome = await this.#act(cmd.action);
        if (outcome.verdict) return outcome.verdict;
        if (!('error' in outcome)) return { verdict: 'fail', expected, got: `returned ${formatValues(outcome.values)}` };
        return this.#expectError(outcome.error, want, cmd.text, expected);
      }
      case 'assert_invalid':
      case 'assert_malformed':
      case 'assert_unlinkable':
      case 'assert_uninstantiable': {
        const want = EXPECTED_MODULE_ERROR[cmd.kind];
        const expected = `${want} ${JSON.stringify(cmd.text)}`;
        try {
          // The module never becomes current or named, whatever the target did with it.
          await this.#target.addModule(cmd.module.bytes, undefined);
          return { verdict: 'fail', expected, got: 'module was instantiated' };
        } catch (err) {
          return this.#expectError(err, want, cmd.text, expected);
        }
      }
    }
  }

  async #module(name: string | undefined, bytes: Uint8Array): Promise<Verdict> {
    let state: ModuleState;
    let verdict: Verdict;
    try {
      state = { status: 'ok', handle: await this.#target.addModule(bytes, name) };
      verdict = PASS;
    } catch (err) {
      verdict = this.#errorVerdict(err, 'instantiated');
      state = verdict.verdict === 'skip' ? { status: 'skipped', reason: verdict.reason } : { status: 'failed', reason: verdict.verdict === 'fail' ? verdict.got : '' };
    }
    this.#current = state;
    if (name !== undefined) this.#named.set(name, state);
    return verdict;
  }

  #lookup(name: string | undefined): ModuleState {
    if (name === undefined) return this.#current ?? { status: 'failed', reason: 'no module defined yet' };
    return this.#named.get(name) ?? { status: 'failed', reason: `no module named ${name}` };
  }

  #unusable(state: Exclude<ModuleState, { status: 'ok' }>, expected: string): Verdict {
    if (state.status === 'skipped') return { verdict: 'skip', reason: state.reason };
    return { verdict: 'fail', expected, got: `module unavailable (${state.reason})` };
  }

  /** Runs an action; `verdict` is set when the action could not even be attempted. */
  async #act(
    action: Action,
  ): Promise<{ verdict: Verdict } | { verdict?: undefined; values: readonly WasmValue[] } | { verdict?: undefined; error: unknown }> {
    const state = this.#lookup(action.module);
    if (state.status !== 'ok') return { verdict: this.#unusable(state, 'a usable module') };
    try {
      const values =
        action.type === 'invoke'
          ? await this.#target.invoke(state.handle, action.field, action.args)
          : [await this.#target.get(state.handle, action.field)];
      return { values };
    } catch (error) {
      return { error };
    }
  }

  #errorVerdict(err: unknown, expected: string): Verdict {
    if (err instanceof SpecSkip) return { verdict: 'skip', reason: err.message };
    const c = this.#target.classify(err);
    return { verdict: 'fail', expected, got: `${c.kind}: ${c.message}` };
  }

  #expectError(err: unknown, want: ErrorKind, text: string, expected: string): Verdict {
    if (err instanceof SpecSkip) return { verdict: 'skip', reason: err.message };
    const c = this.#target.classify(err);
    if (c.kind !== want) return { verdict: 'fail', expected, got: `${c.kind}: ${c.message}` };
    if (this.#options.checkTrapMessages && want === 'trap' && !c.message.includes(text)) {
      return { verdict: 'fail', expected, got: `trap with another message: ${c.message}` };
    }
    return PASS;
  }
}

function describeAction(a: Action): string {
  const where = a.module === undefined ? '' : `${a.module} `;
  if (a.type === 'get') return `get ${where}${JSON.stringify(a.field)}`;
  return `invoke ${where}${JSON.stringify(a.field)} ${formatValues(a.args)}`;
}

function describeCommand(cmd: Command): string {
  switch (cmd.kind) {
    case 'module':
      return `module${cmd.name === undefined ? '' : ` ${cmd.name}`} ${cmd.module.filename}`;
    case 'register':
      return `register ${cmd.name ?? '<current>'} as ${JSON.stringify(cmd.as)}`;
    case 'action':
    case 'assert_return':
    case 'assert_trap':
    case 'assert_exhaustion':
      return `${cmd.kind} ${describeAction(cmd.action)}`;
    case 'assert_invalid':
    case 'assert_malformed':
    case 'assert_unlinkable':
    case 'assert_uninstantiable':
      return `${cmd.kind} ${cmd.module.filename}`;
    case 'skip':
      return `${cmd.countAs} (skipped: ${cmd.reason})`;
  }
}
