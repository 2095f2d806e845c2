/**
 * Scoped data keys and the payload codec over both real engines (PostgreSQL and PGlite): creation per tenant,
 * master- and data-key rotation, re-wrapping, crypto-shredding, and refusal of tampered or unknown ciphertext.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaultPayloadConverter, type Payload, type SerializationContext } from '@temporalio/common';
import {
  createTextCipher,
  DataKeyStore,
  EncryptionCodec,
  ERASED_OWNER,
  ForeignKeyError,
  generateMasterKey,
  isErasedMarker,
  KeyConfigError,
  KeyDestroyedError,
  loadCodecSettings,
  openEncryption,
  OwnerUnknownError,
  parseMasterKeys,
  TamperedCiphertextError,
  UnknownKeyError,
  type MasterKeyRing,
} from '../../src/codec';
import { CIPHER_NAME, seal } from '../../src/codec/aes-gcm';
import { ErasureTombstones } from '../../src/security/tombstones';
import { openPglite, openPostgres, type Db } from '../../src/storage/db';
import { migrate } from '../../src/storage/migrate';
import { freshDatabase, uniqueId } from '../helpers/stack';

const m1 = generateMasterKey();
const m2 = generateMasterKey();
const ringV1 = parseMasterKeys(`m1:${m1}`);
const ringV2 = parseMasterKeys(`m2:${m2},m1:${m1}`);
const ringV2Only = parseMasterKeys(`m2:${m2}`);

const context = (tenantId: string, conversationId = 'c1'): SerializationContext => ({
  type: 'workflow',
  namespace: 'default',
  workflowId: `conversation/${tenantId}/${conversationId}`,
});
const payload = (value: unknown): Payload => defaultPayloadConverter.toPayload(value);
const valueOf = (p: Payload): unknown => defaultPayloadConverter.fromPayload(p);
const text = (b: Uint8Array | null | undefined) => Buffer.from(b ?? new Uint8Array()).toString('utf8');
const keyIdOf = (p: Payload) => text(p.metadata?.['encryption-key-id']);

/** Polls `probe` until `done` holds or `timeoutMs` passes; returns the last value. */
async function until<T>(probe: () => Promise<T>, done: (v: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.each(['postgres', 'pglite'] as const)('data keys on %s', (kind) => {
  let db: Db;
  let cleanup: () => Promise<void>;
  const codecFor = (ring: MasterKeyRing, opts: { cacheTtlMs?: number } = {}) => {
    const keys = new DataKeyStore(db, ring, opts);
    return { keys, codec: new EncryptionCodec({ keys }) };
  };

  beforeAll(async () => {
    if (kind === 'postgres') {
      const database = await freshDatabase();
      db = openPostgres(database.url, 4);
      cleanup = async () => {
        await db.close();
        await database.drop();
      };
    } else {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memoir-codec-'));
      db = await openPglite(path.join(dir, 'pglite'));
      cleanup = async () => {
        await db.close();
        fs.rmSync(dir, { recursive: true, force: true });
      };
    }
    expect(await migrate(db)).toContain('003_data_keys');
  });
  afterAll(() => cleanup?.());

  it('creates one data key per tenant, stores it only wrapped, and round-trips payloads', async () => {
    const { keys, codec } = codecFor(ringV1);
    const [acme, globex] = [uniqueId('acme'), uniqueId('globex')];
    const original = payload({ content: 'the launch code is 0000' });
    // A burst of payloads for a new tenant must still create exactly one key.
    const encoded = await Promise.all([1, 2, 3].map(() => codec.encode([original], context(acme))));
    const [other] = await codec.encode([original], context(globex, 'c9'));

    expect(encoded.map(([p]) => keyIdOf(p!))).toEqual([`t/${acme}@1`, `t/${acme}@1`, `t/${acme}@1`]);
    expect(keyIdOf(other!)).toBe(`t/${globex}@1`);
    expect(text(encoded[0]![0]!.metadata?.encoding)).toBe('binary/encrypted');
    expect(encoded[0]![0]!.metadata?.['encryption-cipher']).toBeUndefined(); // implied: AES-256-GCM
    expect(Buffer.from(encoded[0]![0]!.data!).includes('launch code')).toBe(false);

    const [decoded] = await codec.decode([encoded[0]![0]!]);
    expect(valueOf(decoded!)).toEqual({ content: 'the launch code is 0000' });
    // Payloads written before the cipher was left out name it: they still decode.
    const sealed = encoded[0]![0]!;
    const named = { ...sealed, metadata: { ...sealed.metadata, 'encryption-cipher': Buffer.from('AES-256-GCM') } };
    const [older] = await codec.decode([named]);
    expect(valueOf(older!)).toEqual({ content: 'the launch code is 0000' });
    expect(text(decoded!.metadata?.encoding)).toBe('json/plain');

    const rows = await db.query<{ scope: string; wrapped: string; master_key_id: string }>(
      'SELECT scope, wrapped, master_key_id FROM data_keys WHERE scope IN ($1, $2)',
      [`t/${acme}`, `t/${globex}`],
    );
    expect(rows).toHaveLength(2);
    for (const r of rows) {
      expect(r.master_key_id).toBe('m1');
      expect(Buffer.from(r.wrapped, 'base64').length).toBe(12 + 16 + 32);
    }
    expect((await keys.list({ tenantId: acme })).map((k) => k.keyId)).toEqual([`t/${acme}@1`]);
  });

  it('uses the system key for payloads without a conversation context', async () => {
    const { codec } = codecFor(ringV1);
    const [none] = await codec.encode([payload('x')]);
    const [other] = await codec.encode([payload('y')], { type: 'workflow', namespace: 'default', workflowId: 'cron' });
    const [activity] = await codec.encode([payload('z')], {
      type: 'activity',
      namespace: 'default',
      isLocal: false,
      workflowId: `conversation/${uniqueId('t')}/c`,
    });
    expect(keyIdOf(none!)).toMatch(/^system@\d+$/);
    expect(keyIdOf(other!)).toMatch(/^system@\d+$/);
    expect(keyIdOf(activity!)).toMatch(/^t\/t-[0-9a-f]+@1$/);
    expect((await codec.decode([none!, other!, activity!])).map(valueOf)).toEqual(['x', 'y', 'z']);
  });

  it('scopes keys per user when asked, and refuses to encode when the owner is unknown', async () => {
    const keys = new DataKeyStore(db, ringV1);
    const tenant = uniqueId('acme');
    const owners: Record<string, string> = { c1: 'ada', c2: 'bob' };
    const codec = new EncryptionCodec({
      keys,
      keyScope: 'user',
      resolveUser: async (tenantId, conversationId) => (tenantId === tenant ? owners[conversationId] : undefined),
    });
    const [ada] = await codec.encode([payload('a')], context(tenant, 'c1'));
    const [bob] = await codec.encode([payload('b')], context(tenant, 'c2'));
    // No owner (no conversation row yet): never the tenant key, which erasing the user would leave readable.
    await expect(codec.encode([payload('u')], context(tenant, 'c3'))).rejects.toThrow(OwnerUnknownError);
    // An erased conversation still finishing (its row gone, its tombstone there): born erased, never readable.
    const erasedCodec = new EncryptionCodec({ keys, keyScope: 'user', resolveUser: async () => ERASED_OWNER });
    const [late] = await erasedCodec.encode([payload('late words')], context(tenant, 'c4'));
    expect(keyIdOf(late!)).toBe('discarded');
    expect(valueOf((await codec.decode([late!]))[0]!)).toEqual({ memoirErased: true, keyId: 'discarded' });
    const tenantCodec = new EncryptionCodec({ keys });
    const [unknown] = await tenantCodec.encode([payload('u')], context(tenant, 'c3'));
    expect([ada, bob, unknown].map((p) => keyIdOf(p!))).toEqual([
      `t/${tenant}/u/ada@1`,
      `t/${tenant}/u/bob@1`,
      `t/${tenant}@1`,
    ]);
    expect(() => new EncryptionCodec({ keys, keyScope: 'user' })).toThrow(/resolveUser/);

    // Erasing one user leaves the tenant's other users and its tenant-scoped data readable.
    expect(await keys.destroyScope({ tenantId: tenant, userId: 'ada' })).toBe(1);
    const decoded = await codec.decode([ada!, bob!, unknown!]);
    expect(valueOf(decoded[0]!)).toEqual({ memoirErased: true, keyId: `t/${tenant}/u/ada@1` });
    expect(decoded.slice(1).map(valueOf)).toEqual(['b', 'u']);

    // Erasing the tenant takes its users' keys with it.
    expect(await keys.destroyScope({ tenantId: tenant })).toBe(2);
    expect((await codec.decode([bob!, unknown!])).map(valueOf)).toEqual([
      { memoirErased: true, keyId: `t/${tenant}/u/bob@1` },
      { memoirErased: true, keyId: `t/${tenant}@1` },
    ]);
  });

  it('rotates master keys: old wrappings still open, new data keys use the newest, rewrapAll moves the rest', async () => {
    const [before, after] = [uniqueId('before'), uniqueId('after')];
    const v1 = codecFor(ringV1).codec;
    const [old] = await v1.encode([payload('old words')], context(before));

    // A deployment that now lists m2 first (m1 still configured).
    const v2 = codecFor(ringV2);
    expect(valueOf((await v2.codec.decode([old!]))[0]!)).toBe('old words');
    const [fresh] = await v2.codec.encode([payload('new words')], context(after));
    const wrappedBy = async (scope: string) =>
      (await db.query<{ m: string }>('SELECT master_key_id AS m FROM data_keys WHERE scope = $1', [scope]))[0]?.m;
    expect(await wrappedBy(`t/${before}`)).toBe('m1');
    expect(await wrappedBy(`t/${after}`)).toBe('m2');

    // Without m1, a key it wraps cannot be opened, and the error says how to fix it.
    await expect(codecFor(ringV2Only).codec.decode([old!])).rejects.toThrow(KeyConfigError);
    await expect(codecFor(ringV2Only).codec.decode([old!])).rejects.toThrow(/master key "m1".*not configured/);

    expect(await v2.keys.rewrapAll()).toBeGreaterThanOrEqual(1);
    expect(await wrappedBy(`t/${before}`)).toBe('m2');
    expect(await v2.keys.rewrapAll()).toBe(0);
    // After re-wrapping, m1 can be retired: everything still decrypts with m2 alone.
    const retired = codecFor(ringV2Only).codec;
    expect((await retired.decode([old!, fresh!])).map(valueOf)).toEqual(['old words', 'new words']);
  });

  it('rotates data keys: new payloads use the newest version, old versions still decrypt', async () => {
    const tenant = uniqueId('acme');
    const { keys, codec } = codecFor(ringV2Only);
    const [v1] = await codec.encode([payload('one')], context(tenant));
    expect(await keys.rotateScope({ tenantId: tenant })).toBe(`t/${tenant}@2`);
    const [v2] = await codec.encode([payload('two')], context(tenant));
    expect([keyIdOf(v1!), keyIdOf(v2!)]).toEqual([`t/${tenant}@1`, `t/${tenant}@2`]);
    // Another process (cold cache) reads both.
    expect((await codecFor(ringV2Only).codec.decode([v1!, v2!])).map(valueOf)).toEqual(['one', 'two']);
  });

  it('destroys a tenant: its payloads decode to the erased marker, other tenants are unaffected', async () => {
    const [acme, globex] = [uniqueId('acme'), uniqueId('globex')];
    const { keys, codec } = codecFor(ringV2Only);
    const [a1] = await codec.encode([payload('acme secret')], context(acme));
    await keys.rotateScope({ tenantId: acme });
    const [a2] = await codec.encode([payload('acme secret 2')], context(acme));
    const [g] = await codec.encode([payload('globex secret')], context(globex));

    expect(await keys.destroyScope({ tenantId: acme })).toBe(2);
    expect(await keys.destroyScope({ tenantId: acme })).toBe(0);
    const decoded = await codec.decode([a1!, a2!, g!]);
    expect(decoded.map(valueOf)).toEqual([
      { memoirErased: true, keyId: `t/${acme}@1` },
      { memoirErased: true, keyId: `t/${acme}@2` },
      'globex secret',
    ]);
    // The key material is gone from the database, not merely flagged.
    const rows = await db.query<{ wrapped: string | null; destroyed_at: Date | null }>(
      'SELECT wrapped, destroyed_at FROM data_keys WHERE scope = $1',
      [`t/${acme}`],
    );
    expect(rows.map((r) => [r.wrapped, r.destroyed_at instanceof Date])).toEqual([
      [null, true],
      [null, true],
    ]);
    // A cold process sees the same; new data of the tenant gets a fresh key.
    expect(valueOf((await codecFor(ringV2Only).codec.decode([a1!]))[0]!)).toMatchObject({ memoirErased: true });
    const [after] = await codec.encode([payload('new life')], context(acme));
    expect(keyIdOf(after!)).toBe(`t/${acme}@3`);
    expect(valueOf((await codec.decode([after!]))[0]!)).toBe('new life');
  });

  it('another process stops using a destroyed key within its cache TTL', async () => {
    const tenant = uniqueId('acme');
    const writer = codecFor(ringV2Only);
    const reader = codecFor(ringV2Only, { cacheTtlMs: 300 });
    const [p] = await writer.codec.encode([payload('cached')], context(tenant));
    expect(valueOf((await reader.codec.decode([p!]))[0]!)).toBe('cached');
    await writer.keys.destroyScope({ tenantId: tenant });
    // The destroying process evicts at once.
    expect(valueOf((await writer.codec.decode([p!]))[0]!)).toMatchObject({ memoirErased: true });
    await new Promise((r) => setTimeout(r, 400));
    expect(valueOf((await reader.codec.decode([p!]))[0]!)).toMatchObject({ memoirErased: true });
  });

  it("makes another process drop an erased user's cached key and owner within the erasure bound", async () => {
    const tenant = uniqueId('acme');
    const owners: Record<string, string> = { c1: 'ada' };
    const settings = loadCodecSettings({ MEMOIR_MASTER_KEYS: `m2:${m2}`, MEMOIR_KEY_SCOPE: 'user' });
    // Two processes over one database, each with its own caches (the default key cache keeps a key a minute).
    const startProcess = () => openEncryption(db, settings, { resolveUser: async (_t, c) => owners[c] })!;
    const eraser = startProcess();
    const worker = startProcess();
    const [before] = await worker.codec.encode([payload('ada wrote this')], context(tenant, 'c1'));
    expect(valueOf((await worker.codec.decode([before!]))[0]!)).toBe('ada wrote this');

    // The eraser erases ada as Eraser.eraseUser does (tombstone, key destroyed, tombstone renewed), and the
    // conversation id is then reused by bob.
    const tombstones = new ErasureTombstones(db);
    await tombstones.record(tenant, { userId: 'ada' });
    expect(await eraser.keys.destroyScope({ tenantId: tenant, userId: 'ada' })).toBe(1);
    owners.c1 = 'bob';
    await tombstones.record(tenant, { userId: 'ada' });

    // The documented bound is one second; allow a margin for a slow machine, far below the caches' own TTLs.
    const erased = await until(
      async () => valueOf((await worker.codec.decode([before!]))[0]!),
      (v) => isErasedMarker(v),
      5_000,
    );
    expect(erased).toEqual({ memoirErased: true, keyId: `t/${tenant}/u/ada@1` });
    const [after] = await worker.codec.encode([payload('bob now')], context(tenant, 'c1'));
    expect(keyIdOf(after!)).toBe(`t/${tenant}/u/bob@1`);
  });

  it('throws a clear error for tampered ciphertext and for unknown key ids', async () => {
    const [acme, globex] = [uniqueId('acme'), uniqueId('globex')];
    const { codec } = codecFor(ringV2Only);
    const [p] = await codec.encode([payload('integrity')], context(acme));
    const [q] = await codec.encode([payload('other')], context(globex));

    const flipped = Buffer.from(p!.data!);
    flipped[flipped.length - 1]! ^= 1;
    await expect(codec.decode([{ ...p!, data: flipped }])).rejects.toThrow(TamperedCiphertextError);
    await expect(codec.decode([{ ...p!, data: flipped.subarray(0, 10) }])).rejects.toThrow(TamperedCiphertextError);
    // Relabelling a ciphertext with another tenant's key id fails authentication too.
    const relabelled = { ...p!, metadata: { ...p!.metadata, 'encryption-key-id': q!.metadata!['encryption-key-id']! } };
    await expect(codec.decode([relabelled])).rejects.toThrow(/failed authentication/);

    const unknown = { ...p!, metadata: { ...p!.metadata, 'encryption-key-id': Buffer.from('t/nobody-here@1') } };
    await expect(codec.decode([unknown])).rejects.toThrow(UnknownKeyError);
    await expect(codec.decode([unknown])).rejects.toThrow(/unknown encryption key id "t\/nobody-here@1"/);
    const garbage = { ...p!, metadata: { ...p!.metadata, 'encryption-key-id': Buffer.from("x'; DROP TABLE x") } };
    await expect(codec.decode([garbage])).rejects.toThrow(UnknownKeyError);
    // Plain payloads pass through untouched.
    const plain = payload('not encrypted');
    expect(await codec.decode([plain])).toEqual([plain]);
  });

  it('encrypts text at rest with the same scoped keys, in a self-describing format', async () => {
    const tenant = uniqueId('acme');
    const keys = new DataKeyStore(db, ringV2Only);
    const cipher = createTextCipher(keys, { enabled: true });
    const stored = await cipher.encryptText({ tenantId: tenant }, 'héllo, XYZZY');
    expect(stored).toMatch(new RegExp(`^memoir-enc:v2:t/${tenant}@1:[A-Za-z0-9_-]+$`));
    expect(stored).not.toContain('XYZZY');
    // Any process with the master key reads it: the key id is in the value.
    const reader = createTextCipher(new DataKeyStore(db, ringV2Only), { enabled: false });
    expect(await reader.decryptText(stored, tenant)).toBe('héllo, XYZZY');
    expect(await reader.decryptText('written before encryption', tenant)).toBe('written before encryption');
    expect(await reader.encryptText({ tenantId: tenant }, 'off')).toBe('off');

    // One bit flipped mid-ciphertext: rewriting the last base64 characters could decode to the same bytes (their
    // spare bits are ignored), a 1-in-a-few-hundred pass.
    const at = stored.lastIndexOf(':') + 1;
    const bytes = Buffer.from(stored.slice(at), 'base64url');
    bytes[bytes.length >> 1]! ^= 1;
    const tampered = stored.slice(0, at) + bytes.toString('base64url');
    await expect(reader.decryptText(tampered, tenant)).rejects.toThrow(TamperedCiphertextError);
    await expect(reader.decryptText('memoir-enc:v2:t/none@1:AAAA', 'none')).rejects.toThrow(UnknownKeyError);

    await keys.destroyScope({ tenantId: tenant });
    await expect(cipher.decryptText(stored, tenant)).rejects.toThrow(KeyDestroyedError);
    const cold = createTextCipher(new DataKeyStore(db, ringV2Only), { enabled: true });
    await expect(cold.decryptText(stored, tenant)).rejects.toThrow(/was destroyed/);
  });

  it('opens text at rest only in a row of the tenant its key belongs to', async () => {
    const [acme, globex] = [uniqueId('acme'), uniqueId('globex')];
    const keys = new DataKeyStore(db, ringV2Only);
    const cipher = createTextCipher(keys, { enabled: true });
    const acmeText = await cipher.encryptText({ tenantId: acme, userId: 'ada' }, 'acme secret');
    expect(await cipher.decryptText(acmeText, acme)).toBe('acme secret');
    // The same ciphertext copied into a row of another tenant is refused, whatever key id it names.
    await expect(cipher.decryptText(acmeText, globex)).rejects.toThrow(ForeignKeyError);
    // Relabelled as v2 ciphertext of a key id of the reading tenant: the bound tenant no longer authenticates.
    await keys.currentKey({ tenantId: globex });
    const relabelled = acmeText.replace(`t/${acme}/u/ada@1`, `t/${globex}@1`);
    await expect(cipher.decryptText(relabelled, globex)).rejects.toThrow(TamperedCiphertextError);

    // Values written before the tenant was bound (v1: AAD over the key id only) are still read in their tenant.
    const { keyId, key } = await keys.currentKey({ tenantId: acme });
    const v1 = seal(key, Buffer.from('older row', 'utf8'), `memoir/text/v1|${CIPHER_NAME}|${keyId}`);
    const v1Stored = `memoir-enc:v1:${keyId}:${v1.toString('base64url')}`;
    expect(await cipher.decryptText(v1Stored, acme)).toBe('older row');
    await expect(cipher.decryptText(v1Stored, globex)).rejects.toThrow(ForeignKeyError);
  });
});
