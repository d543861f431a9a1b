// WAT to binary with wabt's wat2wasm, for tests that must control what the binary holds (a name
// section or none) and run the same bytes on Node's own engine as on the server.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface WatOptions {
  /** Write a name section with the text's $identifiers (wat2wasm --debug-names). */
  readonly debugNames?: boolean;
}

export class Wat2wasmFailed extends Error {
  override readonly name = 'Wat2wasmFailed';
}

export function wat2wasm(text: string, options: WatOptions = {}): Uint8Array<ArrayBuffer> {
  const dir = mkdtempSync(join(tmpdir(), 'wat2wasm-'));
  try {
    const input = join(dir, 'module.wat');
    const output = join(dir, 'module.wasm');
    writeFileSync(input, text);
    try {
      execFileSync('wat2wasm', [...(options.debugNames ? ['--debug-names'] : []), input, '-o', output], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? String(err);
      throw new Wat2wasmFailed(`wat2wasm: ${stderr.trim()}`);
    }
    return new Uint8Array(readFileSync(output));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
