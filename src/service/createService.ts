// Builds the service the server runs: a LazyJIT configured from the validated config, behind
// the JITService facade.

import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { LazyJIT } from '../jit/LazyJIT.ts';
import type { JITService } from './JITService.ts';
import { JITServiceImpl } from './JITServiceImpl.ts';

export async function createService(config: Config, logger?: Logger): Promise<JITService> {
  const jit = await LazyJIT.create({
    memoryMaxPages: config.memoryLimitPages,
    tableMaxElements: config.tableLimitElements,
    sessionMemoryLimitPages: config.sessionMemoryLimitPages,
    sessionCodeLimitBytes: config.sessionCodeLimitBytes,
    executorHeapLimitMb: config.executorHeapLimitMb,
    maxModuleBytes: config.maxModuleBytes,
    maxFunctionsPerModule: config.maxFunctionsPerModule,
    callTimeoutMs: config.callTimeoutMs,
    maxCallTimeoutMs: config.maxCallTimeoutMs,
    reoptimizeThreshold: config.reoptimizeThreshold,
    reoptimizeMaxFunctions: config.reoptimizeMaxFunctions,
  });
  // Errors no lookup is waiting for (e.g. a body whose instantiation failed after its caller
  // moved on) still reach the log.
  jit.session.setErrorReporter((err) => logger?.error({ err }, 'JIT error with no waiting lookup'));
  return new JITServiceImpl(jit);
}
