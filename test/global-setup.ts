/**
 * Runs once before the suite: checks the services are up (scripts/services.sh starts them) and bundles the
 * workflow code once, so each test's worker starts in milliseconds instead of re-bundling.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { bundleWorkflows } from '../src/temporal/bundle';
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

  const code = await bundleWorkflows();
  fs.mkdirSync(path.dirname(WORKFLOW_BUNDLE_PATH), { recursive: true });
  fs.writeFileSync(WORKFLOW_BUNDLE_PATH, code);
}
