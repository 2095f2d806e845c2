import { prebuiltBundlePath } from '../../src/temporal/bundle-paths';

/**
 * Where the test services run (started by `scripts/services.sh`; the ports match it).
 */
export const TEST_SERVICES = {
  databaseUrl: process.env.TEST_DATABASE_URL ?? 'postgres://memoir@127.0.0.1:55432/postgres',
  redisUrl: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:56379',
  weaviate: {
    host: process.env.TEST_WEAVIATE_HOST ?? '127.0.0.1',
    port: Number(process.env.TEST_WEAVIATE_PORT ?? 58080),
    grpcPort: Number(process.env.TEST_WEAVIATE_GRPC_PORT ?? 50151),
  },
  temporalAddress: process.env.TEST_TEMPORAL_ADDRESS ?? '127.0.0.1:57233',
  temporalUi: process.env.TEST_TEMPORAL_UI ?? 'http://127.0.0.1:58233',
};

/** The bundle `npm run build` writes and workers load (test/global-setup.ts refreshes it when stale). */
export const WORKFLOW_BUNDLE_PATH = prebuiltBundlePath('plain');
