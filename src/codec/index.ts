/**
 * Payload encryption, crypto-shredding and at-rest text encryption, wired from the settings. The app opens this
 * once per process (after migrating the database) and hands `dataConverter` to its Temporal client and worker.
 */
import path from 'node:path';
import type { PayloadCodec } from '@temporalio/common';
import type { Db } from '../storage/db';
import { createTextCipher, type TextCipher } from './at-rest';
import { DataKeyStore } from './data-keys';
import { parseMasterKeys, readMasterKeyFile, type MasterKeyRing } from './master-keys';
import { EncryptionCodec, type UserResolver } from './payload-codec';
import type { CodecSettings } from './settings';

export { createTextCipher, isEncryptedText, TEXT_PREFIX, type TextCipher } from './at-rest';
export { createCodecServer, type CodecServerOptions } from './codec-server';
export { DataKeyStore, DESTROYED, type DataKey, type DataKeyInfo, type DataKeyStoreOptions } from './data-keys';
export {
  ForeignKeyError,
  KeyConfigError,
  KeyDestroyedError,
  OwnerUnknownError,
  TamperedCiphertextError,
  UnknownKeyError,
} from './errors';
export {
  createMasterKeyFile,
  generateMasterKey,
  MasterKeyRing,
  parseMasterKeyFile,
  parseMasterKeys,
  readMasterKeyFile,
  rotateMasterKeyFile,
} from './master-keys';
export {
  DISCARDED_KEY_ID,
  EncryptionCodec,
  ERASED_OWNER,
  erasedPayload,
  isEncrypted,
  isErasedMarker,
  type EncryptionCodecOptions,
  type ErasedMarker,
  type UserResolver,
} from './payload-codec';
export { conversationOfWorkflowId, parseKeyId, scopeName, SYSTEM_SCOPE, type KeyScope } from './scope';
export { CODEC_SETTINGS, loadCodecSettings, type CodecSettings } from './settings';

/**
 * Module exporting `failureConverter` (messages and stack traces encoded, hence encrypted): pass it as
 * `dataConverter.failureConverterPath` to the worker and to `bundleWorkflowCode`.
 */
export const FAILURE_CONVERTER_PATH = path.join(__dirname, 'failure-converter.ts');

export interface Encryption {
  masterKeys: MasterKeyRing;
  keys: DataKeyStore;
  codec: EncryptionCodec;
  text: TextCipher;
  /** For `new Client({ dataConverter })` and `Worker.create({ dataConverter })`. */
  dataConverter: { payloadCodecs: PayloadCodec[] };
}

/** The master keys the settings name (from the environment or the key file). */
export function loadMasterKeys(settings: CodecSettings): MasterKeyRing | undefined {
  const source = settings.masterKeys;
  if (!source) return undefined;
  return source.kind === 'env' ? parseMasterKeys(source.value) : readMasterKeyFile(source.path);
}

/**
 * Everything encryption needs, over a migrated database; undefined when no master keys are configured (payloads
 * then travel unencrypted). `resolveUser` is required for `MEMOIR_KEY_SCOPE=user`.
 */
export function openEncryption(
  db: Db,
  settings: CodecSettings,
  opts: { resolveUser?: UserResolver } = {},
): Encryption | undefined {
  const masterKeys = loadMasterKeys(settings);
  if (!masterKeys) return undefined;
  const keys = new DataKeyStore(db, masterKeys, { cacheTtlMs: settings.keyCacheTtlMs });
  const codec = new EncryptionCodec({
    keys,
    keyScope: settings.keyScope,
    ...(opts.resolveUser ? { resolveUser: opts.resolveUser } : {}),
  });
  return {
    masterKeys,
    keys,
    codec,
    text: createTextCipher(keys, { enabled: settings.encryptAtRest }),
    dataConverter: { payloadCodecs: [codec] },
  };
}
