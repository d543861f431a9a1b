// The named targets the CLI (and any test) can run scripts against. A new target is one more
// entry: the JIT service's lazy and eager modes plug in here through the SpecTarget interface.

import { DirectTarget } from './DirectTarget.ts';
import { JITTarget } from './JITTarget.ts';
import type { TargetFactory } from './SpecTarget.ts';

const factories = new Map<string, TargetFactory>([
  ['direct', async () => new DirectTarget()],
  ['lazy', () => JITTarget.create({ lazy: true })],
  ['reopt', () => JITTarget.create({ lazy: true, reoptimizeThreshold: 1 })],
  ['eager', () => JITTarget.create({ lazy: false })],
]);

/** Adds or replaces a target factory under `name`. */
export function registerTarget(name: string, factory: TargetFactory): void {
  factories.set(name, factory);
}

export function targetFactory(name: string): TargetFactory {
  const factory = factories.get(name);
  if (!factory) throw new Error(`unknown target ${JSON.stringify(name)} (known: ${targetNames().join(', ')})`);
  return factory;
}

export function targetNames(): string[] {
  return [...factories.keys()];
}
