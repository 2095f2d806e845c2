/**
 * Payload encryption, crypto-shredding and at-rest text encryption, wired from the settings. The app opens this
 * once per process (after migrating the database) and hands `dataConverter` to its Temporal client and worker.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { PayloadCodec } from '@temporalio/common';
import type { Db } from '../storage/db';
import { createTextCipher, type TextCipher } from './at-rest';
import { DataKeyStore } from './data-keys';
import { ErasureWatch } from './erasure-watch';
import { ensureMasterKeyFile, parseMasterKeys, readMasterKeyFile, type MasterKeyRing } from './master-keys';
import { EncryptionCodec, type UserResolver } from './payload-codec';
import type { CodecSettings } from './settings';

export { createTextCipher, isEncryptedText, TEXT_PREFIX, type TextCipher } from './at-rest';
export { createCodecServer, type CodecServerOptions } from './codec-server';
export { ERASURE_CHECK_MS, ErasureWatch, type ErasedScope } from './erasure-watch';
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
  ensureMasterKeyFile,
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
export { CODEC_SETTINGS, EMBEDDED_KEY_FILE, loadCodecSettings, type CodecSettings } from './settings';

/**
 * Module exporting `failureConverter` (messages and stack traces encoded, hence encrypted): pass it as
 * `dataConverter.failureConverterPath` to the worker and to `bundleWorkflowCode`.
 */
// `.ts` from the sources, `.js` from the compiled output (dist/).
export const FAILURE_CONVERTER_PATH = path.join(__dirname, `failure-converter${path.extname(__filename)}`);

export interface Encryption {
  masterKeys: MasterKeyRing;
  keys: DataKeyStore;
  codec: EncryptionCodec;
  text: TextCipher;
  /** For `new Client({ dataConverter })` and `Worker.create({ dataConverter })`. */
  dataConverter: { payloadCodecs: PayloadCodec[] };
}

/**
 * The master keys the settings name (from the environment or a key file). The embedded default's generated key
 * file is created only with `create` (a server starting); a client or CLI without it finds no keys — nothing was
 * encrypted yet.
 */
export function loadMasterKeys(settings: CodecSettings, opts: { create?: boolean } = {}): MasterKeyRing | undefined {
  const source = settings.masterKeys;
  if (!source) return undefined;
  if (source.kind === 'env') return parseMasterKeys(source.value);
  if (source.kind === 'file') return readMasterKeyFile(source.path);
  if (opts.create) return ensureMasterKeyFile(source.path).ring;
  return fs.existsSync(source.path) ? readMasterKeyFile(source.path) : undefined;
}

/**
 * Everything encryption needs, over a migrated database; undefined when no master keys are configured (payloads
 * then travel unencrypted). `resolveUser` is required for `MEMOIR_KEY_SCOPE=user`.
 */
export function openEncryption(
  db: Db,
  settings: CodecSettings,
  opts: { resolveUser?: UserResolver; create?: boolean } = {},
): Encryption | undefined {
  const masterKeys = loadMasterKeys(settings, { create: opts.create ?? false });
  if (!masterKeys) return undefined;
  // One watch per process for both caches: erasures by other processes reach them within its bound.
  const erasures = new ErasureWatch(db);
  const keys = new DataKeyStore(db, masterKeys, { cacheTtlMs: settings.keyCacheTtlMs, erasures });
  const codec = new EncryptionCodec({
    keys,
    keyScope: settings.keyScope,
    erasures,
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
