/**
 * Every fault scenario by name, in the order `scripts/chaos.ts` runs them.
 */
import type { Size, Verdict } from '../verdict';
import { memoryOutage } from './memory-outage';
import { modelStorm } from './model-storm';
import { overload } from './overload';
import { postgresOutage } from './postgres-outage';
import { temporalRestart } from './temporal-restart';
import { workerKill } from './worker-kill';

export interface Scenario {
  /** Command-line name (`--only`). */
  name: string;
  /** The verdict's `scenario`. */
  title: string;
  run(size: Size): Promise<Verdict>;
}

export const SCENARIOS: Scenario[] = [
  { name: 'worker-kill', title: 'worker killed', run: workerKill },
  { name: 'temporal-restart', title: 'Temporal restarted', run: temporalRestart },
  { name: 'redis-down', title: 'Redis down and back', run: (size) => memoryOutage('redis', size) },
  { name: 'weaviate-down', title: 'Weaviate down and back', run: (size) => memoryOutage('weaviate', size) },
  {
    name: 'embedder-down',
    title: 'embeddings provider down and back',
    run: (size) => memoryOutage('embedder', size),
  },
  { name: 'postgres-down', title: 'PostgreSQL down', run: postgresOutage },
  { name: 'storm-529', title: 'model storm: 50% overloaded (529)', run: (size) => modelStorm('overload-529', size) },
  {
    name: 'storm-429',
    title: 'model storm: rate limited (429 + retry-after)',
    run: (size) => modelStorm('rate-limit-429', size),
  },
  {
    name: 'storm-primary-down',
    title: 'model storm: primary down for minutes',
    run: (size) => modelStorm('primary-down', size),
  },
  { name: 'storm-slow', title: 'model storm: slower than the turn deadline', run: (size) => modelStorm('slow', size) },
  { name: 'overload', title: 'overload', run: overload },
];
