/**
 * Payload encryption for a process: on when master keys are configured (MEMOIR_MASTER_KEYS or a key file; the
 * same keys on every client and worker). The codec server lets an authorised operator read payloads in the
 * Temporal UI; the embedded dev server's UI is pointed at it.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { DataConverter } from '@temporalio/common';
import type { Config } from '../config';
import {
  createCodecServer,
  ERASED_OWNER,
  FAILURE_CONVERTER_PATH,
  KeyConfigError,
  openEncryption,
  type Encryption,
} from '../codec';
import type { Logger } from '../log';
import { ConversationStore, type MessageSealer } from '../storage/conversations';
import { readOrCreate } from '../files';
import type { Db } from '../storage/db';

export interface EncryptionSetup {
  encryption: Encryption | undefined;
  /** For the Temporal client and worker. */
  dataConverter: DataConverter | undefined;
  /** Where the codec server will listen, when it will run. */
  codecEndpoint: string | undefined;
  choice: string;
  /** Said at every start when payloads travel in plaintext on purpose (MEMOIR_PAYLOAD_ENCRYPTION=off). */
  warning?: string;
}

/** Why a server process refuses to start: an external Temporal would store every message in plaintext. */
export const PLAINTEXT_REFUSAL =
  'TEMPORAL_ADDRESS points at an external Temporal and no master key is configured, so its database would hold ' +
  'every message in plaintext: set MEMOIR_MASTER_KEYS or MEMOIR_MASTER_KEY_FILE (the same keys on every worker, ' +
  'API and client), or MEMOIR_PAYLOAD_ENCRYPTION=off if plaintext histories are intended';

/**
 * Payload encryption for a server process (`serve`, `worker`, `api`, `demo`). Creates the embedded default's key
 * file on first start; refuses an external Temporal without keys unless plaintext was asked for.
 */
export function setUpEncryption(config: Config, db: Db, conversations: ConversationStore): EncryptionSetup {
  const settings = config.encryption;
  if (!settings.masterKeys && settings.payloadEncryption !== 'off') throw new KeyConfigError(PLAINTEXT_REFUSAL);
  const encryption = openEncryption(db, settings, {
    create: true,
    resolveUser: async (tenantId, conversationId) => {
      const owner = await conversations.owner(tenantId, conversationId);
      if (owner !== undefined) return owner;
      // No row: erased (its tombstone says so), or a bug that must not be hidden (the codec then refuses).
      return (await conversations.erasedSince({ tenantId, conversationId }, new Date(0))) ? ERASED_OWNER : undefined;
    },
  });
  if (!encryption) {
    const warning =
      'Payload encryption is OFF (MEMOIR_PAYLOAD_ENCRYPTION=off): Temporal stores message text in plaintext';
    return { encryption, dataConverter: undefined, codecEndpoint: undefined, choice: warning, warning };
  }
  const server = settings.codecServer ?? (config.temporal.address ? undefined : settings.codecListen);
  const codecEndpoint = server ? `http://${server.host}:${server.port}/codec` : undefined;
  const source = settings.masterKeys!;
  const keys =
    source.kind === 'env'
      ? 'master keys from MEMOIR_MASTER_KEYS'
      : `master key file ${source.path}${source.kind === 'generated' ? ' (made on first start: back it up, it alone opens these histories)' : ''}`;
  return {
    encryption,
    dataConverter: { ...encryption.dataConverter, failureConverterPath: FAILURE_CONVERTER_PATH },
    codecEndpoint,
    choice:
      `Payload encryption: AES-256-GCM, ${settings.keyScope} keys, ${keys}` +
      (codecEndpoint
        ? `; codec server ${codecEndpoint}${config.temporal.address ? '' : ' (the embedded Temporal UI shows decoded payloads through it, on this machine)'}`
        : ''),
  };
}

/**
 * Message text in PostgreSQL: sealed under the conversation's key scope with MEMOIR_ENCRYPT_AT_REST, and opened
 * whenever keys are configured (rows written while it was on stay readable after it is turned off).
 */
export function messageSealer(config: Config, encryption: Encryption | undefined): MessageSealer | undefined {
  if (!encryption) return undefined;
  const { text } = encryption;
  const byUser = config.encryption.keyScope === 'user';
  return {
    seal: async (tenantId, userId, plaintext) =>
      text.enabled ? text.encryptText(byUser ? { tenantId, userId } : { tenantId }, plaintext) : plaintext,
    open: (tenantId, stored) => text.decryptText(stored, tenantId),
    digest: (tenantId, userId, plaintext) => text.digestText(byUser ? { tenantId, userId } : { tenantId }, plaintext),
  };
}

/**
 * How a client process (the CLI verbs, `createMemoirClient`) reads and writes text at rest: with the server's keys,
 * found as for `clientDataConverter`. Undefined without keys: nothing was sealed.
 */
export function clientSealer(config: Config, db: Db): MessageSealer | undefined {
  return messageSealer(config, openEncryption(db, config.encryption));
}

/** Starts the codec server when encryption is on and a server is configured (or the stack is embedded). */
export async function startCodecServer(
  config: Config,
  setup: EncryptionSetup,
  uiUrl: string | undefined,
  log: Logger,
): Promise<{ close(): Promise<void> } | undefined> {
  if (!setup.encryption || !setup.codecEndpoint) return undefined;
  const configured = config.encryption.codecServer;
  const embeddedUi = !config.temporal.address && uiUrl ? new URL(uiUrl).origin : undefined;
  const app = createCodecServer({
    codec: setup.encryption.codec,
    tokens: configured?.tokens ?? [localToken(config.dataDir)],
    allowedOrigins: configured?.origins ?? (uiUrl ? [new URL(uiUrl).origin] : []),
    ...(embeddedUi ? { trustedOrigins: [embeddedUi, embeddedUi.replace('127.0.0.1', 'localhost')] } : {}),
    logger: log.child({ component: 'codec' }),
    requestTimeoutMs: config.api.requestTimeoutMs,
  });
  const url = new URL(setup.codecEndpoint);
  try {
    await app.listen({ host: url.hostname, port: Number(url.port) });
  } catch (err) {
    // On the embedded stack the first Memoir process (a running `serve`) already serves it, with the same keys:
    // a `worker`, or `erase`, started beside it goes on without one.
    if (configured || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    await app.close();
    log.info({ codecEndpoint: setup.codecEndpoint }, 'codec server already running in another process');
    return undefined;
  }
  return { close: () => app.close() };
}

/** A token for the embedded codec server, kept in the data directory (for `temporal --codec-auth`). */
function localToken(dataDir: string): string {
  return readOrCreate(path.join(dataDir, 'codec-token'), () => randomBytes(24).toString('base64url'));
}

/** Whether this process would find master keys: configured ones, or the embedded default's file once created. */
export function hasMasterKeys(config: Config): boolean {
  const source = config.encryption.masterKeys;
  return source !== undefined && (source.kind !== 'generated' || fs.existsSync(source.path));
}

/**
 * The data converter of a client process (the CLI verbs, `createMemoirClient`): the server's keys found the same
 * way (MEMOIR_MASTER_KEYS, MEMOIR_MASTER_KEY_FILE, or the data directory's generated file — never created here),
 * and its data keys from the same database. Undefined when there are no keys: nothing was encrypted.
 */
export function clientDataConverter(config: Config, db: Db): DataConverter | undefined {
  const conversations = new ConversationStore(db);
  const encryption = openEncryption(db, config.encryption, {
    resolveUser: (tenantId, conversationId) => conversations.owner(tenantId, conversationId),
  });
  return encryption ? { ...encryption.dataConverter, failureConverterPath: FAILURE_CONVERTER_PATH } : undefined;
}
