// The key a layer records a materialization's resources under: the responsibility's tracker,
// through ORC's withResourceKeyDo, which throws ResourceTrackerDefunct once that tracker has
// been removed (so nothing is ever recorded under a removed tracker).

import type { MaterializationResponsibility } from '../core/MaterializationResponsibility.ts';
import type { ResourceKey } from '../core/ResourceTracker.ts';

export function resourceKey(r: MaterializationResponsibility): ResourceKey {
  let key: ResourceKey | undefined;
  r.withResourceKeyDo((k) => {
    key = k;
  });
  return key as ResourceKey;
}
