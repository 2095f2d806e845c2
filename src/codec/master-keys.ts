/**
 * Master keys: the keys that wrap (encrypt) the per-scope data keys stored in PostgreSQL. They come from the
 * environment or a key file, never from code or the database, so a database dump alone decrypts nothing.
 * Several may be configured at once: the current one wraps new data keys, the others still unwrap old ones until
 * `DataKeyStore.rewrapAll()` has moved every data key to the current one.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { KEY_BYTES } from './aes-gcm';
import { KeyConfigError } from './errors';

/** Master key ids are recorded next to every wrapped data key; they must be short and unambiguous. */
const MASTER_KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

export class MasterKeyRing {
  private constructor(
    /** Id of the key that wraps new data keys. */
    readonly currentId: string,
    private readonly keys: ReadonlyMap<string, Buffer>,
  ) {}

  /** A ring from `[id, base64 key]` entries; `currentId` defaults to the first. Validates every entry. */
  static from(entries: [id: string, base64Key: string][], currentId?: string, source = 'master keys'): MasterKeyRing {
    const keys = new Map<string, Buffer>();
    for (const [id, b64] of entries) {
      if (!MASTER_KEY_ID.test(id)) throw new KeyConfigError(`${source}: bad key id "${id}" (use [A-Za-z0-9._-]{1,64})`);
      if (keys.has(id)) throw new KeyConfigError(`${source}: key id "${id}" appears twice`);
      const key = BASE64.test(b64) ? Buffer.from(b64, 'base64') : undefined;
      if (key?.length !== KEY_BYTES)
        throw new KeyConfigError(
          `${source}: key "${id}" must be ${KEY_BYTES} bytes in base64 (openssl rand -base64 32)`,
        );
      keys.set(id, key);
    }
    const current = currentId ?? entries[0]?.[0];
    if (current === undefined) throw new KeyConfigError(`${source}: no master key given`);
    if (!keys.has(current)) throw new KeyConfigError(`${source}: current key "${current}" is not among the keys`);
    return new MasterKeyRing(current, keys);
  }

  /** The key that wraps new data keys. */
  get current(): { id: string; key: Buffer } {
    return { id: this.currentId, key: this.keys.get(this.currentId)! };
  }

  /** A configured master key by id, or undefined. */
  get(id: string): Buffer | undefined {
    return this.keys.get(id);
  }

  /** Every configured master key id, the current one first. */
  ids(): string[] {
    return [this.currentId, ...[...this.keys.keys()].filter((id) => id !== this.currentId)];
  }
}

/** Parses `MEMOIR_MASTER_KEYS`: `id1:base64key,id2:base64key`, the first being current. */
export function parseMasterKeys(text: string, source = 'MEMOIR_MASTER_KEYS'): MasterKeyRing {
  const entries = text
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry): [string, string] => {
      const colon = entry.indexOf(':');
      if (colon < 1) throw new KeyConfigError(`${source}: each entry is id:base64key`);
      return [entry.slice(0, colon), entry.slice(colon + 1)];
    });
  return MasterKeyRing.from(entries, undefined, source);
}

const keyFileSchema = z.object({
  current: z.string(),
  keys: z.record(z.string(), z.string()),
});

/** Parses a key file's text: `{ "current": "id", "keys": { "id": "base64" } }`. */
export function parseMasterKeyFile(json: string, source: string): MasterKeyRing {
  let parsed: z.output<typeof keyFileSchema>;
  try {
    parsed = keyFileSchema.parse(JSON.parse(json));
  } catch {
    throw new KeyConfigError(`${source}: expected JSON {"current": "id", "keys": {"id": "base64 key"}}`);
  }
  return MasterKeyRing.from(Object.entries(parsed.keys), parsed.current, source);
}

export function readMasterKeyFile(file: string): MasterKeyRing {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new KeyConfigError(`master key file ${file}: ${(err as Error).message}`);
  }
  return parseMasterKeyFile(text, `master key file ${file}`);
}

/** A fresh random master key, base64. */
export function generateMasterKey(): string {
  return randomBytes(KEY_BYTES).toString('base64');
}

/**
 * Creates a key file with one random key, readable by its owner only (for an embedded deployment that has none).
 * Refuses to overwrite: replacing a key file would make every stored data key unreadable.
 */
export function createMasterKeyFile(file: string, id = `k${new Date().toISOString().slice(0, 10)}`): MasterKeyRing {
  const json = `${JSON.stringify({ current: id, keys: { [id]: generateMasterKey() } }, null, 2)}\n`;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, json, { mode: 0o600, flag: 'wx' });
  return parseMasterKeyFile(json, `master key file ${file}`);
}

/**
 * The key file at `file`, created with one random key when missing — by exactly one process: the key is written
 * to a private temporary file and hard-linked into place (link fails with EEXIST if the name exists, like
 * O_EXCL), so two processes starting together never make two keys; the loser reads the winner's. Owner-only
 * (0600) from its first byte, in a directory only the owner can enter when this creates it.
 */
export function ensureMasterKeyFile(file: string): { ring: MasterKeyRing; created: boolean } {
  if (fs.existsSync(file)) return { ring: readMasterKeyFile(file), created: false };
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const id = `k${new Date().toISOString().slice(0, 10)}`;
  const json = `${JSON.stringify({ current: id, keys: { [id]: generateMasterKey() } }, null, 2)}\n`;
  const temp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  fs.writeFileSync(temp, json, { mode: 0o600, flag: 'wx' });
  let created = true;
  try {
    fs.linkSync(temp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    created = false;
  } finally {
    fs.rmSync(temp, { force: true });
  }
  return { ring: readMasterKeyFile(file), created };
}

/**
 * Adds a new random key to a key file and makes it current; the old keys stay so existing data keys still
 * unwrap. Follow with `DataKeyStore.rewrapAll()`, then old keys may be removed from the file.
 */
export function rotateMasterKeyFile(file: string, newId: string): MasterKeyRing {
  const before = readMasterKeyFile(file);
  if (before.get(newId)) throw new KeyConfigError(`master key file ${file}: key id "${newId}" already exists`);
  const raw = keyFileSchema.parse(JSON.parse(fs.readFileSync(file, 'utf8')));
  const json = `${JSON.stringify({ current: newId, keys: { ...raw.keys, [newId]: generateMasterKey() } }, null, 2)}\n`;
  // Written beside the file and renamed over it, so a crash never leaves a half-written key file.
  const temp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temp, json, { mode: 0o600, flag: 'wx' });
  fs.renameSync(temp, file);
  return parseMasterKeyFile(json, `master key file ${file}`);
}
