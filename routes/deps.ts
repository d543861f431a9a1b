// What every route plugin is given: the service facade it calls, the configuration, and the
// metrics it records into. Passed explicitly as plugin options rather than as decorators, so
// each route file's dependencies are visible in its signature.

import type { Config } from '../src/config.ts';
import type { JITService } from '../src/service/JITService.ts';
import type { AppMetrics } from './metrics.ts';

export interface RouteDeps {
  readonly service: JITService;
  readonly config: Config;
  readonly metrics: AppMetrics;
}
