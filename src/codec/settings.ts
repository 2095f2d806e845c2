/**
 * Encryption settings from the environment, read once and validated like `config.ts` (every problem reported
 * together). `CODEC_SETTINGS` has the same `[schema, description]` shape as `SETTINGS`, so the README table can be
 * generated from it too. Key material is only named here; it is read by `openEncryption`.
 */
import path from 'node:path';
import { z } from 'zod';
import { parseDuration } from '../duration';
import { readSettings } from '../settings';
import { KeyConfigError } from './errors';

const optionalText = z
  .string()
  .optional()
  .transform((s) => (s === undefined || s.trim() === '' ? undefined : s.trim()));
const list = z.string().transform((s) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean),
);
const flag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .default('false')
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const origins = list.pipe(
  z.array(
    z.string().refine((o) => {
      try {
        return new URL(o).origin === o.replace(/\/$/, '');
      } catch {
        return false;
      }
    }, 'each origin is scheme://host[:port], e.g. http://localhost:8233'),
  ),
);

/** Where the embedded default keeps the master key it creates on first start (in the data directory). */
export const EMBEDDED_KEY_FILE = 'master-keys.json';

export const CODEC_SETTINGS = {
  MEMOIR_PAYLOAD_ENCRYPTION: [
    z.enum(['auto', 'off']).default('auto'),
    '`auto`: encrypted (embedded: a key file made in the data dir; external Temporal, no keys: servers refuse). `off`: plaintext, warned.',
  ],
  MEMOIR_MASTER_KEYS: [
    optionalText,
    'Master keys `id:base64,...` (32 random bytes each; the first wraps new data keys). With it or a key file, workflow payloads are encrypted.',
  ],
  MEMOIR_MASTER_KEY_FILE: [
    optionalText,
    'JSON key file `{"current": "id", "keys": {"id": "base64"}}`, instead of `MEMOIR_MASTER_KEYS`.',
  ],
  MEMOIR_KEY_SCOPE: [
    z.enum(['tenant', 'user']).default('tenant'),
    'Data keys per `tenant`, or per `user` of a tenant (a user can then be erased alone).',
  ],
  MEMOIR_KEY_CACHE_TTL: [
    z
      .string()
      .default('60s')
      .refine((t) => parseDuration(t) !== undefined, 'not a duration (use 30s, 5m)')
      .transform((t) => parseDuration(t)!),
    'How long a process keeps an unwrapped data key (every process drops an erased one within 1 s regardless).',
  ],
  MEMOIR_ENCRYPT_AT_REST: [
    flag,
    'Also encrypt message text in PostgreSQL with the same scoped keys (recall is then semantic only: ciphertext cannot be searched).',
  ],
  MEMOIR_CODEC_TOKENS: [
    list.pipe(z.array(z.string().min(16, 'each token needs 16+ characters'))).optional(),
    'Bearer tokens of the codec server for the Temporal UI, comma-separated. Unset: no codec server.',
  ],
  MEMOIR_CODEC_ORIGINS: [origins.optional(), 'Browser origins the codec server allows. Unset: the Temporal UI origin.'],
  MEMOIR_CODEC_HOST: [z.string().default('127.0.0.1'), 'Codec server bind address.'],
  MEMOIR_CODEC_PORT: [z.coerce.number().int().min(0).max(65535).default(8788), 'Codec server port.'],
} as const;

type Parsed = { [K in keyof typeof CODEC_SETTINGS]: z.output<(typeof CODEC_SETTINGS)[K][0]> };

export type MasterKeySource =
  | { kind: 'env'; value: string }
  | { kind: 'file'; path: string }
  /** The embedded default: a key file in the data directory, created by the first server process to start. */
  | { kind: 'generated'; path: string };

export interface CodecSettings {
  /** `off`: plaintext payloads were asked for. */
  payloadEncryption: 'auto' | 'off';
  masterKeys: MasterKeySource | undefined;
  keyScope: 'tenant' | 'user';
  keyCacheTtlMs: number;
  encryptAtRest: boolean;
  /** Undefined: no codec server. */
  codecServer: { tokens: string[]; origins: string[] | undefined; host: string; port: number } | undefined;
  /** Where a codec server listens (the configured one, or the embedded stack's own). */
  codecListen: { host: string; port: number };
}

/** What decides the default key: the data directory, and whether Temporal is external (no default key then). */
export interface KeyContext {
  dataDir: string;
  externalTemporal: boolean;
}

/**
 * Reads and validates the encryption settings; throws a KeyConfigError listing every problem. With `context` (as
 * `loadConfig` gives it), no configured key on the embedded Temporal means the data directory's generated key.
 */
export function loadCodecSettings(env: NodeJS.ProcessEnv = process.env, context?: KeyContext): CodecSettings {
  const { values, problems } = readSettings(CODEC_SETTINGS, env);
  const v = values as Parsed;
  if (v.MEMOIR_MASTER_KEYS && v.MEMOIR_MASTER_KEY_FILE)
    problems.push('set MEMOIR_MASTER_KEYS or MEMOIR_MASTER_KEY_FILE, not both');
  const configured = Boolean(v.MEMOIR_MASTER_KEYS ?? v.MEMOIR_MASTER_KEY_FILE);
  if (v.MEMOIR_PAYLOAD_ENCRYPTION === 'off' && configured)
    problems.push('MEMOIR_PAYLOAD_ENCRYPTION=off but master keys are configured: unset one of them');
  const generated =
    !configured && v.MEMOIR_PAYLOAD_ENCRYPTION === 'auto' && context && !context.externalTemporal
      ? path.join(context.dataDir, EMBEDDED_KEY_FILE)
      : undefined;
  const encrypted = configured || generated !== undefined;
  if (v.MEMOIR_ENCRYPT_AT_REST && !encrypted) problems.push('MEMOIR_ENCRYPT_AT_REST needs master keys');
  if (v.MEMOIR_CODEC_TOKENS?.length && !encrypted) problems.push('MEMOIR_CODEC_TOKENS needs master keys');
  if (problems.length > 0)
    throw new KeyConfigError(`invalid encryption settings:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  return {
    payloadEncryption: v.MEMOIR_PAYLOAD_ENCRYPTION,
    masterKeys: v.MEMOIR_MASTER_KEYS
      ? { kind: 'env', value: v.MEMOIR_MASTER_KEYS }
      : v.MEMOIR_MASTER_KEY_FILE
        ? { kind: 'file', path: v.MEMOIR_MASTER_KEY_FILE }
        : generated
          ? { kind: 'generated', path: generated }
          : undefined,
    keyScope: v.MEMOIR_KEY_SCOPE,
    keyCacheTtlMs: v.MEMOIR_KEY_CACHE_TTL,
    encryptAtRest: v.MEMOIR_ENCRYPT_AT_REST,
    codecServer: v.MEMOIR_CODEC_TOKENS?.length
      ? {
          tokens: v.MEMOIR_CODEC_TOKENS,
          origins: v.MEMOIR_CODEC_ORIGINS,
          host: v.MEMOIR_CODEC_HOST,
          port: v.MEMOIR_CODEC_PORT,
        }
      : undefined,
    codecListen: { host: v.MEMOIR_CODEC_HOST, port: v.MEMOIR_CODEC_PORT },
  };
}
