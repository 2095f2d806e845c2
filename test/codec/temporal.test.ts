/**
 * Payload encryption end to end on the real Temporal dev server: a real conversation workflow, its activities on
 * real PostgreSQL and the offline model, with the codec and the encoding failure converter on both client and
 * worker. The raw history (a model failure quoting the message included) must hold no plaintext; the codec server must show it to an operator; erasing a tenant must turn its history into "erased"
 * markers while another tenant's history still decodes and replays.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import type { FastifyInstance } from 'fastify';
import { createActivities } from '../../activities';
import {
  createCodecServer,
  FAILURE_CONVERTER_PATH,
  generateMasterKey,
  loadCodecSettings,
  openEncryption,
  type Encryption,
} from '../../src/codec';
import { MemoirClient } from '../../src/client/memoir-client';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/log';
import { openServices, type Services } from '../../src/runtime/services';
import { activityDeps, WORKFLOWS_PATH } from '../../src/runtime/worker';
import { installTemporalRuntime } from '../../src/temporal/runtime';
import { TEST_SERVICES } from '../helpers/services';
import { freshDatabase, startOfflineModel, uniqueId, type OfflineHandle } from '../helpers/stack';

const TOKEN = `codec_${uniqueId('token')}_0123456789`;
const SECRET = 'XYZZY-42';
const OTHER_SECRET = 'QUUX-7';

let services: Services;
let encryption: Encryption;
let dataConverter: Encryption['dataConverter'] & { failureConverterPath: string };
let workflowBundle: { code: string };
let offline: OfflineHandle;
let client: Client;
let memoir: MemoirClient;
let worker: Worker;
let workerDone: Promise<void>;
let workerConnection: NativeConnection;
let codecServer: FastifyInstance;
let codecUrl: string;
const cleanups: (() => Promise<unknown>)[] = [];
const quiet = () => undefined;
const acme = uniqueId('acme');
const globex = uniqueId('globex');

beforeAll(async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'memoir-codec-'));
  cleanups.push(async () => fs.rmSync(dataDir, { recursive: true, force: true }));
  const database = await freshDatabase();
  cleanups.push(() => database.drop());
  const model = await startOfflineModel();
  offline = model;
  cleanups.push(() => model.close());
  const config = loadConfig({
    MEMOIR_DATA_DIR: dataDir,
    TEMPORAL_ADDRESS: TEST_SERVICES.temporalAddress,
    // The services run in plaintext; this test encrypts through a codec of its own.
    MEMOIR_PAYLOAD_ENCRYPTION: 'off',
    MEMOIR_TASK_QUEUE: uniqueId('codec'),
    ANTHROPIC_BASE_URL: model.url,
    ANTHROPIC_API_KEY: 'test-key',
    DATABASE_URL: database.url,
    MEMOIR_MODEL_ATTEMPTS: '1',
    MEMOIR_LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
  });
  const log = createLogger({ level: config.logLevel, file: path.join(dataDir, 'memoir.log') });
  services = await openServices(config, log);
  cleanups.push(() => services.close());

  // Per-user keys: the conversations table says whose conversation a workflow is.
  const settings = loadCodecSettings({ MEMOIR_MASTER_KEYS: `m1:${generateMasterKey()}`, MEMOIR_KEY_SCOPE: 'user' });
  encryption = openEncryption(services.db, settings, {
    resolveUser: async (tenantId, conversationId) =>
      (await services.conversations.get(tenantId, conversationId))?.userId,
  })!;
  // Failure messages and stack traces become payloads too, so the codec encrypts them; the workflow sandbox needs
  // the same converter, hence a bundle built with it.
  dataConverter = { ...encryption.dataConverter, failureConverterPath: FAILURE_CONVERTER_PATH };
  workflowBundle = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    failureConverterPath: FAILURE_CONVERTER_PATH,
    logger: { log: quiet, trace: quiet, debug: quiet, info: quiet, warn: quiet, error: console.error },
  });

  client = new Client({
    connection: services.temporal.connection,
    namespace: config.temporal.namespace,
    dataConverter,
  });
  memoir = new MemoirClient({
    client,
    taskQueue: config.temporal.taskQueue,
    policy: config.policy,
    conversations: services.conversations,
  });

  installTemporalRuntime(log);
  workerConnection = await NativeConnection.connect({ address: TEST_SERVICES.temporalAddress });
  worker = await Worker.create({
    connection: workerConnection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    workflowBundle,
    activities: createActivities(activityDeps(services)),
    dataConverter,
  });
  workerDone = worker.run();
  cleanups.push(async () => {
    worker.shutdown();
    await workerDone;
    await workerConnection.close();
  });

  codecServer = createCodecServer({
    codec: encryption.codec,
    tokens: [TOKEN],
    allowedOrigins: [TEST_SERVICES.temporalUi],
  });
  codecUrl = await codecServer.listen({ host: '127.0.0.1', port: 0 });
  cleanups.push(() => codecServer.close());
});

afterAll(async () => {
  for (const [tenant, conversation] of [
    [acme, 'plans'],
    [globex, 'plans'],
  ] as const) {
    await memoir
      ?.handle(tenant, conversation)
      .terminate('test over')
      .catch(() => undefined);
  }
  for (const c of cleanups.reverse()) await c();
});

/** The whole history of a workflow as the server stores it, read through the service API (no codec). */
async function rawHistory(workflowId: string): Promise<temporal.api.history.v1.History> {
  const events: temporal.api.history.v1.IHistoryEvent[] = [];
  let nextPageToken: Uint8Array | null = null;
  do {
    const page: temporal.api.workflowservice.v1.IGetWorkflowExecutionHistoryResponse =
      await client.workflowService.getWorkflowExecutionHistory({
        namespace: 'default',
        execution: { workflowId },
        nextPageToken,
      });
    events.push(...(page.history?.events ?? []));
    nextPageToken = page.nextPageToken?.length ? page.nextPageToken : null;
  } while (nextPageToken);
  return temporal.api.history.v1.History.create({ events });
}

/**
 * Every payload the codec is responsible for. Search attributes are indexed by the server and so never encoded
 * (they hold ids and counters, no content); headers carry tracing context.
 */
function codecPayloads(node: unknown, out: Payload[] = []): Payload[] {
  if (node === null || typeof node !== 'object' || ArrayBuffer.isView(node)) return out;
  if (isPayload(node)) {
    out.push(node);
    return out;
  }
  // A patch marker's details name the patch only, recorded by the SDK without the codec.
  const markerName = (node as { markerName?: unknown }).markerName;
  if (markerName === 'core_patch') return out;
  // A local activity marker's `data` is the SDK's own bookkeeping (ids, attempt, times); its `result` is the
  // activity's output, which the codec encodes.
  if (markerName === 'core_local_activity') {
    const details = (node as { details?: { result?: unknown } }).details;
    return codecPayloads(details?.result, out);
  }
  for (const [key, value] of Object.entries(node)) {
    if (key === 'searchAttributes' || key === 'header') continue;
    codecPayloads(value, out);
  }
  return out;
}

function isPayload(node: object): node is Payload {
  const { metadata } = node as { metadata?: unknown };
  return (
    'data' in node &&
    typeof metadata === 'object' &&
    metadata !== null &&
    Object.values(metadata).every((v) => ArrayBuffer.isView(v))
  );
}

const toWire = (p: Payload) => ({
  metadata: Object.fromEntries(
    Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')]),
  ),
  data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
});

/** Decodes payloads through the codec server as the Temporal UI would; returns their decoded data as text. */
async function decodeViaServer(payloads: Payload[]): Promise<{ status: number; texts: string[] }> {
  const res = await fetch(`${codecUrl}/codec/decode`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-namespace': 'default',
      authorization: `Bearer ${TOKEN}`,
      origin: TEST_SERVICES.temporalUi,
    },
    body: JSON.stringify({ payloads: payloads.map(toWire) }),
  });
  const body = (await res.json()) as { payloads: { metadata: Record<string, string>; data: string }[] };
  return { status: res.status, texts: body.payloads.map((p) => Buffer.from(p.data, 'base64').toString('utf8')) };
}

const keyIdOf = (p: Payload) => Buffer.from(p.metadata?.['encryption-key-id'] ?? new Uint8Array()).toString();

describe('encrypted workflow histories', () => {
  it('stores no plaintext in history, shows it to an operator, and erases it with the tenant key', async () => {
    await memoir.startConversation(acme, { conversationId: 'plans', userId: 'ada' });
    await memoir.startConversation(globex, { conversationId: 'plans', userId: 'grace' });
    // The primary model fails quoting the message, as providers' errors may; with one attempt per model the failure
    // lands in history and the fallback model answers.
    await offline.script([
      {
        model: 'claude-sonnet-5-5',
        lastUserContains: SECRET,
        times: 1,
        action: { kind: 'error', status: 529, message: `cannot process "my secret plan is ${SECRET}"` },
      },
    ]);
    const turn = await memoir.sendMessage(acme, 'plans', { content: `my secret plan is ${SECRET}`, messageId: 'm-1' });
    const other = await memoir.sendMessage(globex, 'plans', {
      content: `globex plan ${OTHER_SECRET}`,
      messageId: 'g-1',
    });
    // The client decodes transparently: the reply (which echoes the message) comes back in plaintext.
    expect(turn.reply).toMatchObject({ model: 'claude-haiku-5-5', degraded: false });
    expect(turn.reply.content).toContain(SECRET);
    expect(other.reply.content).toContain(OTHER_SECRET);

    const acmeId = `conversation/${acme}/plans`;
    const history = await rawHistory(acmeId);
    const raw = Buffer.from(temporal.api.history.v1.History.encode(history).finish());
    expect(raw.includes(SECRET)).toBe(false);
    expect(raw.includes(Buffer.from(SECRET).toString('base64').slice(0, 8))).toBe(false);

    const failed = history.events.filter((e) => e.activityTaskFailedEventAttributes);
    expect(failed.length).toBeGreaterThan(0);
    for (const e of failed) expect(e.activityTaskFailedEventAttributes!.failure!.message).toBe('Encoded failure');

    const payloads = codecPayloads(history);
    // Workflow input, update argument and result, activity inputs and results, summaries: dozens, all sealed.
    expect(payloads.length).toBeGreaterThan(5);
    const keyIds = new Set(payloads.map(keyIdOf));
    // Workflow and activity payloads alike carry the conversation owner's key.
    expect([...keyIds]).toEqual([`t/${acme}/u/ada@1`]);
    for (const p of payloads) {
      expect(Buffer.from(p.metadata!.encoding!).toString()).toBe('binary/encrypted');
      // The cipher is implied (AES-256-GCM): naming it in every payload was ~35 B each in history.
      expect(p.metadata!['encryption-cipher']).toBeUndefined();
    }

    const decoded = await decodeViaServer(payloads);
    expect(decoded.status).toBe(200);
    expect(decoded.texts.join('\n')).toContain(`my secret plan is ${SECRET}`);

    // Erasure: the tenant's keys (its users' included) are destroyed; the history itself is untouched.
    expect(await encryption.keys.destroyScope({ tenantId: acme })).toBe(1);
    const erased = await decodeViaServer(payloads);
    expect(erased.status).toBe(200);
    expect(erased.texts.join('\n')).not.toContain(SECRET);
    for (const t of erased.texts) expect(JSON.parse(t)).toEqual({ memoirErased: true, keyId: `t/${acme}/u/ada@1` });

    // The other tenant is untouched: its history still decodes, and still replays through the worker's codec.
    const globexId = `conversation/${globex}/plans`;
    const globexHistory = await rawHistory(globexId);
    expect(Buffer.from(temporal.api.history.v1.History.encode(globexHistory).finish()).includes(OTHER_SECRET)).toBe(
      false,
    );
    const globexPayloads = codecPayloads(globexHistory);
    expect(new Set(globexPayloads.map(keyIdOf))).toEqual(new Set([`t/${globex}/u/grace@1`]));
    expect((await decodeViaServer(globexPayloads)).texts.join('\n')).toContain(OTHER_SECRET);
    await Worker.runReplayHistory({ workflowBundle, dataConverter }, globexHistory, globexId);
    const again = await memoir.sendMessage(globex, 'plans', { content: 'still there?', messageId: 'g-2' });
    expect(again.reply.degraded).toBe(false);
  });
});
