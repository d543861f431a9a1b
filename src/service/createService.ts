// Builds the service the server runs: a LazyJIT configured from the validated config, behind
// the JITService facade.

import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { LazyJIT } from '../jit/LazyJIT.ts';
import type { JITService } from './JITService.ts';
import { JITServiceImpl } from './JITServiceImpl.ts';

export async function createService(config: Config, logger?: Logger): Promise<JITService> {
  const jit = await LazyJIT.create(config);
  // Errors no lookup is waiting for (e.g. a failed re-optimization, which leaves the baseline)
  // still reach the log.
  jit.session.setErrorReporter((err) => logger?.error({ err }, 'JIT error with no waiting lookup'));
  return new JITServiceImpl(jit);
}
