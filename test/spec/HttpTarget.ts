// The service over HTTP as a spec target, the way an outside client drives it (API.md v2): each
// module goes into a dylib of its own as a binary body (application/wasm, lazy by default);
// `register "M"` creates a dylib named M (percent-encoded in paths) that reexports the module's
// exports, which is how imports from module "M" resolve; a module whose add lists
// `unresolvedImports` is unlinkable and its dylib is removed. Values cross in the typed form
// and results are read from `bits`, so they are exact. Many targets share one server (one per
// script, in turn): each names its dylibs uniquely and removes them when it closes.

import type { ApiResponse, ServerProcess } from '../support/serverProcess.ts';
import type { ValType, WasmValue } from '../../src/wasm/types.ts';
import type { ClassifiedError, SpecTarget, TargetFactory } from './SpecTarget.ts';

export interface HttpModule {
  readonly dylib: string;
  readonly exports: readonly string[];
}

interface ErrorObject {
  readonly code: string;
  readonly message: string;
  readonly [detail: string]: unknown;
}

interface ResultView {
  readonly type: ValType;
  readonly bits: string | null;
}

interface SymbolView {
  readonly name: string;
  readonly value?: ResultView;
}

interface AddModuleResponse {
  readonly symbols: readonly SymbolView[];
  readonly unresolvedImports?: readonly { readonly module: string; readonly name: string }[];
}

/** An API error response: its status and the error object of the envelope. */
export class HttpApiError extends Error {
  override readonly name = 'HttpApiError';
  readonly status: number;
  readonly error: ErrorObject;
  constructor(what: string, status: number, error: ErrorObject) {
    super(`${what}: ${status} ${error.code}: ${error.message}`);
    this.status = status;
    this.error = error;
  }
}

/** The add succeeded but some function imports resolve nowhere: what the spec calls unlinkable. */
export class UnresolvedImports extends Error {
  override readonly name = 'UnresolvedImports';
}

const seg = encodeURIComponent;

function errorOf(what: string, res: ApiResponse): HttpApiError {
  const error = (res.json as { error?: ErrorObject } | undefined)?.error;
  return new HttpApiError(what, res.status, error ?? { code: 'NotAnApiError', message: res.text.slice(0, 300) });
}

function typed(v: WasmValue): { type: ValType; value: string | null } {
  return { type: v.type, value: v.bits };
}

const PAGE_BYTES = 65536;

/** How many pages spectest's memory has now (1 in a fresh session; a script may grow it to 2). */
export async function spectestMemoryPages(server: ServerProcess): Promise<number> {
  const read = await server.get<{ pages: number }>('/dylibs/spectest/memories/memory?offset=0&length=1');
  if (read.status !== 200) throw errorOf("reading spectest's memory", read);
  return read.json.pages;
}

async function zeroSpectestMemory(server: ServerProcess): Promise<void> {
  const zeros = Buffer.alloc((await spectestMemoryPages(server)) * PAGE_BYTES).toString('base64');
  const write = await server.request('PUT', '/dylibs/spectest/memories/memory', { json: { offset: 0, base64: zeros } });
  if (write.status !== 200) throw errorOf("zeroing spectest's memory", write);
}

export class HttpTarget implements SpecTarget<HttpModule> {
  readonly #server: ServerProcess;
  readonly #nextDylib: () => string;
  /** Every dylib this target created, in order, removed in reverse on close. */
  readonly #created: string[] = [];

  constructor(server: ServerProcess, nextDylib: () => string) {
    this.#server = server;
    this.#nextDylib = nextDylib;
  }

  /**
   * Targets on one server, each script's dylibs named apart from every other's. Every script
   * expects a fresh spectest, but the server has one for its whole life: its memory is zeroed
   * before each script, so data one script stored there is not read by the next. Its size
   * cannot shrink (see spectestMemoryPages), and its table cannot be cleared through the API.
   */
  static factory(server: ServerProcess): TargetFactory {
    let n = 0;
    return async () => {
      await zeroSpectestMemory(server);
      return new HttpTarget(server, () => `wast${++n}`);
    };
  }

  async #createDylib(name: string): Promise<void> {
    const res = await this.#server.post(`/dylibs`, { name });
    if (res.status !== 201) throw errorOf(`creating dylib ${JSON.stringify(name)}`, res);
    this.#created.push(name);
  }

  async #removeDylib(name: string): Promise<void> {
    const res = await this.#server.request('DELETE', `/dylibs/${seg(name)}`);
    if (res.status !== 204 && res.status !== 404) throw errorOf(`removing dylib ${JSON.stringify(name)}`, res);
  }

  async addModule(bytes: Uint8Array, _name: string | undefined): Promise<HttpModule> {
    const dylib = this.#nextDylib();
    await this.#createDylib(dylib);
    // A module that fails to instantiate keeps its dylib: wasm lets the elements it stored in a
    // shared table before failing outlive it, and calls through them must keep working.
    const res = await this.#server.request<AddModuleResponse>('POST', `/dylibs/${seg(dylib)}/modules`, { wasm: bytes });
    if (res.status !== 201) throw errorOf('adding the module', res);
    const unresolved = res.json.unresolvedImports ?? [];
    if (unresolved.length > 0) {
      await this.#removeDylib(dylib);
      const names = unresolved.map((i) => `${JSON.stringify(i.module)}.${JSON.stringify(i.name)}`).join(', ');
      throw new UnresolvedImports(`unresolved imports ${names}`);
    }
    return { dylib, exports: res.json.symbols.map((s) => s.name) };
  }

  async register(module: HttpModule, as: string): Promise<void> {
    // Registering a name again replaces what it held, as the spec interpreter's registry does.
    await this.#removeDylib(as);
    await this.#createDylib(as);
    const res = await this.#server.post(`/dylibs/${seg(as)}/reexports`, { from: module.dylib, symbols: module.exports });
    if (res.status !== 201) throw errorOf(`reexporting into ${JSON.stringify(as)}`, res);
  }

  async invoke(module: HttpModule, field: string, args: readonly WasmValue[]): Promise<readonly WasmValue[]> {
    const res = await this.#server.post<{ results: readonly ResultView[] }>(`/dylibs/${seg(module.dylib)}/invoke`, {
      symbol: field,
      args: args.map(typed),
    });
    if (res.status !== 200) throw errorOf(`invoking ${JSON.stringify(field)}`, res);
    return res.json.results.map((r) => ({ type: r.type, bits: r.bits }));
  }

  async get(module: HttpModule, field: string): Promise<WasmValue> {
    // An empty name cannot be a path segment; the lookup route takes it in the body.
    const res =
      field === ''
        ? await this.#server.post<{ symbols: readonly SymbolView[] }>(`/dylibs/${seg(module.dylib)}/lookup`, { symbols: [field] })
        : await this.#server.get<SymbolView>(`/dylibs/${seg(module.dylib)}/symbols/${seg(field)}`);
    if (res.status !== 200) throw errorOf(`reading global ${JSON.stringify(field)}`, res);
    const view = 'symbols' in (res.json as object) ? (res.json as { symbols: readonly SymbolView[] }).symbols[0] : (res.json as SymbolView);
    if (view?.value === undefined) throw new Error(`symbol ${JSON.stringify(field)} has no value`);
    return { type: view.value.type, bits: view.value.bits };
  }

  classify(err: unknown): ClassifiedError {
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof UnresolvedImports) return { kind: 'link', message };
    if (!(err instanceof HttpApiError)) return { kind: 'other', message };
    const e = err.error;
    switch (e.code) {
      case 'InvalidModule':
        return { kind: 'invalid', message };
      case 'FailedToMaterialize': {
        // A module whose imports do not resolve or do not match is what the spec calls
        // unlinkable, unless what failed was its start function or a segment: a trap.
        const cause = e['cause'] as { code?: string; trap?: string } | undefined;
        if (cause?.code === 'Trap') return { kind: 'trap', message: cause.trap ?? message };
        return { kind: 'link', message };
      }
      case 'Trap':
        return { kind: 'trap', message: typeof e['trap'] === 'string' ? e['trap'] : message };
      case 'StackOverflow':
        return { kind: 'exhaustion', message };
      default:
        return { kind: 'other', message };
    }
  }

  async close(): Promise<void> {
    for (const dylib of this.#created.reverse()) await this.#removeDylib(dylib);
    this.#created.length = 0;
  }
}
