// What every route plugin is given: the service, the configuration, the metrics it records into,
// and `session(request)`: the session of the tenant the request acts for (after authentication,
// see src/app.ts). Passed explicitly as plugin options rather than as decorators, so each route
// file's dependencies are visible in its signature.

import type { FastifyRequest } from 'fastify';
import type { Config } from '../src/config.ts';
import type { JITService } from '../src/service/JITService.ts';
import type { Service } from '../src/service/Service.ts';
import type { AppMetrics } from '../src/metrics/AppMetrics.ts';

export interface RouteDeps {
  readonly service: Service;
  readonly config: Config;
  readonly metrics: AppMetrics;
  readonly session: (request: FastifyRequest) => JITService;
}
