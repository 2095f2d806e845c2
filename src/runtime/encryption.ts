/**
 * Payload encryption for a process: on when master keys are configured (MEMOIR_MASTER_KEYS or a key file; the
 * same keys on every client and worker). The codec server lets an authorised operator read payloads in the
 * Temporal UI; the embedded dev server's UI is pointed at it.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { DataConverter } from '@temporalio/common';
import type { Config } from '../config';
import { createCodecServer, ERASED_OWNER, FAILURE_CONVERTER_PATH, openEncryption, type Encryption } from '../codec';
import type { Logger } from '../log';
import type { ConversationStore, MessageSealer } from '../storage/conversations';
import { readOrCreate } from '../files';
import type { Db } from '../storage/db';

export interface EncryptionSetup {
  encryption: Encryption | undefined;
  /** For the Temporal client and worker. */
  dataConverter: DataConverter | undefined;
  /** Where the codec server will listen, when it will run. */
  codecEndpoint: string | undefined;
  choice: string;
}

export function setUpEncryption(config: Config, db: Db, conversations: ConversationStore): EncryptionSetup {
  const settings = config.encryption;
  const encryption = openEncryption(db, settings, {
    resolveUser: async (tenantId, conversationId) => {
      const owner = (await conversations.get(tenantId, conversationId))?.userId;
      if (owner !== undefined) return owner;
      // No row: erased (its tombstone says so), or a bug that must not be hidden (the codec then refuses).
      return (await conversations.erasedSince({ tenantId, conversationId }, new Date(0))) ? ERASED_OWNER : undefined;
    },
  });
  if (!encryption) {
    return {
      encryption,
      dataConverter: undefined,
      codecEndpoint: undefined,
      choice: 'Payload encryption: OFF (set MEMOIR_MASTER_KEYS or MEMOIR_MASTER_KEY_FILE)',
    };
  }
  const server = settings.codecServer ?? (config.temporal.address ? undefined : { host: '127.0.0.1', port: 8788 });
  const codecEndpoint = server ? `http://${server.host}:${server.port}/codec` : undefined;
  return {
    encryption,
    dataConverter: { ...encryption.dataConverter, failureConverterPath: FAILURE_CONVERTER_PATH },
    codecEndpoint,
    choice: `Payload encryption: AES-256-GCM, ${settings.keyScope} keys${codecEndpoint ? `, codec server ${codecEndpoint}` : ''}`,
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
  };
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
  });
  const url = new URL(setup.codecEndpoint);
  await app.listen({ host: url.hostname, port: Number(url.port) });
  return { close: () => app.close() };
}

/** A token for the embedded codec server, kept in the data directory (for `temporal --codec-auth`). */
function localToken(dataDir: string): string {
  return readOrCreate(path.join(dataDir, 'codec-token'), () => randomBytes(24).toString('base64url'));
}
