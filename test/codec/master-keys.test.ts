/**
 * Where keys come from: the environment or a key file, validated; and the encryption settings.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  createMasterKeyFile,
  generateMasterKey,
  KeyConfigError,
  loadCodecSettings,
  parseMasterKeys,
  readMasterKeyFile,
  rotateMasterKeyFile,
} from '../../src/codec';
import { ROOT } from '../cli/run-cli';

const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');

describe('master keys', () => {
  const k1 = generateMasterKey();
  const k2 = generateMasterKey();

  it('reads id:base64 pairs from the environment, the first being current', () => {
    const ring = parseMasterKeys(` new:${k2} , old:${k1} `);
    expect(ring.currentId).toBe('new');
    expect(ring.ids()).toEqual(['new', 'old']);
    expect(ring.get('old')).toEqual(Buffer.from(k1, 'base64'));
    expect(ring.current.key).toEqual(Buffer.from(k2, 'base64'));
  });

  it('refuses short keys, bad ids, duplicates and empty lists without echoing key material', () => {
    const short = Buffer.alloc(16, 7).toString('base64');
    const bad = (text: string) => () => parseMasterKeys(text);
    expect(bad(`k:${short}`)).toThrow(KeyConfigError);
    expect(bad(`k:${short}`)).toThrow(/must be 32 bytes/);
    expect(bad(`k:not base64!!`)).toThrow(/must be 32 bytes/);
    expect(bad(`bad id:${k1}`)).toThrow(/bad key id/);
    expect(bad(`k:${k1},k:${k2}`)).toThrow(/appears twice/);
    expect(bad('')).toThrow(/no master key/);
    expect(bad(k1)).toThrow(/id:base64key/);
    try {
      parseMasterKeys(`k:${short}`);
    } catch (err) {
      expect((err as Error).message).not.toContain(short);
    }
  });

  it('creates, reads and rotates a key file readable by its owner only', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memoir-keys-'));
    try {
      const file = path.join(dir, 'keys', 'master-keys.json');
      const created = createMasterKeyFile(file, 'k1');
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      expect(readMasterKeyFile(file).current).toEqual(created.current);
      expect(() => createMasterKeyFile(file, 'k1')).toThrow(/EEXIST/);

      const rotated = rotateMasterKeyFile(file, 'k2');
      expect(rotated.ids()).toEqual(['k2', 'k1']);
      expect(readMasterKeyFile(file).get('k1')).toEqual(created.current.key);
      expect(() => rotateMasterKeyFile(file, 'k1')).toThrow(/already exists/);

      fs.writeFileSync(file, JSON.stringify({ current: 'k9', keys: { k1: k1 } }));
      expect(() => readMasterKeyFile(file)).toThrow(/current key "k9" is not among/);
      fs.writeFileSync(file, 'not json');
      expect(() => readMasterKeyFile(file)).toThrow(/expected JSON/);
      expect(() => readMasterKeyFile(path.join(dir, 'missing.json'))).toThrow(KeyConfigError);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the embedded default key file', () => {
  it('is made by exactly one of several processes starting together, owner-only, and all read the same key', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memoir-keyrace-'));
    const file = path.join(dir, 'data', 'master-keys.json');
    const script = `const { ensureMasterKeyFile } = require(${JSON.stringify(path.join(ROOT, 'src', 'codec', 'master-keys.ts'))});
      const { ring, created } = ensureMasterKeyFile(process.argv[1]);
      process.stdout.write(JSON.stringify({ created, key: ring.current.key.toString('base64') }));`;
    try {
      const runs = await Promise.all(
        Array.from(
          { length: 6 },
          () =>
            new Promise<{ created: boolean; key: string }>((resolve, reject) =>
              execFile(TSX, ['-e', script, file], (err, stdout) =>
                err ? reject(new Error(err.message)) : resolve(JSON.parse(stdout)),
              ),
            ),
        ),
      );
      expect(runs.filter((r) => r.created)).toHaveLength(1);
      expect(new Set(runs.map((r) => r.key)).size).toBe(1);
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      expect(readMasterKeyFile(file).current.key.toString('base64')).toBe(runs[0]!.key);
      // No temporary file is left beside it.
      expect(fs.readdirSync(path.dirname(file))).toEqual(['master-keys.json']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('encryption settings', () => {
  it('defaults to no encryption, tenant scope and a one-minute key cache', () => {
    expect(loadCodecSettings({})).toEqual({
      payloadEncryption: 'auto',
      masterKeys: undefined,
      keyScope: 'tenant',
      keyCacheTtlMs: 60_000,
      encryptAtRest: false,
      codecServer: undefined,
      codecListen: { host: '127.0.0.1', port: 8788 },
    });
  });

  it('defaults to a generated key file in the data directory on the embedded Temporal only', () => {
    expect(loadCodecSettings({}, { dataDir: '/d', externalTemporal: false }).masterKeys).toEqual({
      kind: 'generated',
      path: '/d/master-keys.json',
    });
    expect(loadCodecSettings({}, { dataDir: '/d', externalTemporal: true }).masterKeys).toBeUndefined();
    const off = loadCodecSettings({ MEMOIR_PAYLOAD_ENCRYPTION: 'off' }, { dataDir: '/d', externalTemporal: false });
    expect(off).toMatchObject({ payloadEncryption: 'off', masterKeys: undefined });
    expect(() =>
      loadCodecSettings({ MEMOIR_PAYLOAD_ENCRYPTION: 'off', MEMOIR_MASTER_KEYS: `k:${generateMasterKey()}` }),
    ).toThrow(/MEMOIR_PAYLOAD_ENCRYPTION=off but master keys are configured/);
  });

  it('reads every setting', () => {
    const s = loadCodecSettings({
      MEMOIR_MASTER_KEY_FILE: '/run/secrets/memoir-keys.json',
      MEMOIR_KEY_SCOPE: 'user',
      MEMOIR_KEY_CACHE_TTL: '10s',
      MEMOIR_ENCRYPT_AT_REST: 'true',
      MEMOIR_CODEC_TOKENS: 'tok_aaaaaaaaaaaaaaaa, tok_bbbbbbbbbbbbbbbb',
      MEMOIR_CODEC_ORIGINS: 'http://localhost:8233,https://temporal.example.com',
      MEMOIR_CODEC_PORT: '0',
    });
    expect(s).toEqual({
      payloadEncryption: 'auto',
      masterKeys: { kind: 'file', path: '/run/secrets/memoir-keys.json' },
      keyScope: 'user',
      keyCacheTtlMs: 10_000,
      encryptAtRest: true,
      codecServer: {
        tokens: ['tok_aaaaaaaaaaaaaaaa', 'tok_bbbbbbbbbbbbbbbb'],
        origins: ['http://localhost:8233', 'https://temporal.example.com'],
        host: '127.0.0.1',
        port: 0,
      },
      codecListen: { host: '127.0.0.1', port: 0 },
    });
  });

  it('reports every problem at once and never echoes a key', () => {
    const secret = generateMasterKey();
    let message = '';
    try {
      loadCodecSettings({
        MEMOIR_MASTER_KEYS: `k:${secret}`,
        MEMOIR_MASTER_KEY_FILE: '/x.json',
        MEMOIR_KEY_SCOPE: 'planet',
        MEMOIR_CODEC_TOKENS: 'short',
        MEMOIR_CODEC_ORIGINS: 'localhost',
      });
    } catch (err) {
      expect(err).toBeInstanceOf(KeyConfigError);
      message = (err as Error).message;
    }
    for (const name of ['MEMOIR_KEY_SCOPE', 'MEMOIR_CODEC_TOKENS', 'MEMOIR_CODEC_ORIGINS', 'not both'])
      expect(message).toContain(name);
    expect(message).not.toContain(secret);
    expect(() => loadCodecSettings({ MEMOIR_ENCRYPT_AT_REST: '1' })).toThrow(/needs master keys/);
  });
});
