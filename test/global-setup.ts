/**
 * Runs once before the suite: checks the services are up (scripts/services.sh starts them) and makes sure the
 * prebuilt workflow bundle (dist/workflow-bundles/plain.js, what `npm run build` writes and workers load) matches
 * the sources, so each test's worker starts in milliseconds and the tests run the code that ships.
 */
import net from 'node:net';
import { writePrebuiltBundle } from '../src/temporal/bundle';
import { isBundleFresh } from '../src/temporal/bundle-freshness';
import { TEST_SERVICES, WORKFLOW_BUNDLE_PATH } from './helpers/services';

function reachable(hostPort: string): Promise<boolean> {
  const url = hostPort.includes('://') ? new URL(hostPort) : new URL(`tcp://${hostPort}`);
  return new Promise((resolve) => {
    const socket = net.connect({ host: url.hostname, port: Number(url.port) });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

export default async function setup(): Promise<void> {
  const needed = {
    PostgreSQL: TEST_SERVICES.databaseUrl,
    Redis: TEST_SERVICES.redisUrl,
    Temporal: TEST_SERVICES.temporalAddress,
    Weaviate: `${TEST_SERVICES.weaviate.host}:${TEST_SERVICES.weaviate.port}`,
  };
  const down = [];
  for (const [name, where] of Object.entries(needed)) if (!(await reachable(where))) down.push(`${name} (${where})`);
  if (down.length > 0)
    throw new Error(`test services are down: ${down.join(', ')}. Run \`make test\` or scripts/services.sh start.`);

  if (!isBundleFresh(WORKFLOW_BUNDLE_PATH)) await writePrebuiltBundle('plain');
}
