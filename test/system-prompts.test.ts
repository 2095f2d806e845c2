/**
 * System prompts at rest: sealed for the conversation's owner like message text, kept per conversation (two
 * tenants with the same prompt share no row and no name), erased with the user, still sent to the model, and rows
 * written before migration 008 still read.
 */
import { createHash } from 'node:crypto';
import { KeyDestroyedError, loadCodecSettings, openEncryption } from '../src/codec';
import { ConversationStore, type MessageSealer } from '../src/storage/conversations';
import { openPostgres, type Db } from '../src/storage/db';
import { ManifestStore } from '../src/storage/manifests';
import { migrate } from '../src/storage/migrate';
import { freshDatabase, startStack, uniqueId, type Stack } from './helpers/stack';

const MASTER_KEYS = `k1:${Buffer.alloc(32, 11).toString('base64')}`;
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Every table of the database whose rows mention `text`, by name (the whole row as text, JSON included). */
async function tablesHolding(db: Db, text: string): Promise<string[]> {
  const tables = await db.query<{ name: string }>(
    `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`,
  );
  const found: string[] = [];
  for (const { name } of tables) {
    const rows = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${name}" t WHERE t::text LIKE $1`, [
      `%${text}%`,
    ]);
    if (rows[0]!.n > 0) found.push(name);
  }
  return found;
}

describe('system prompts with encryption at rest and per-user keys', () => {
  let stack: Stack;
  const prompt = `${uniqueId('PROMPT-SECRET')}: you are the private assistant of Ada, who lives at 12 Elm Street.`;

  beforeAll(async () => {
    stack = await startStack({
      env: { MEMOIR_MASTER_KEYS: MASTER_KEYS, MEMOIR_ENCRYPT_AT_REST: 'true', MEMOIR_KEY_SCOPE: 'user' },
    });
    // The same prompt, conversation id and user in two tenants.
    for (const { key } of [stack.tenants.acme, stack.tenants.globex]) {
      const created = await stack.http(
        'POST',
        '/v1/conversations',
        {
          conversationId: 'c1',
          userId: 'ada',
          systemPrompt: prompt,
        },
        key,
      );
      expect(created.status).toBe(201);
    }
  });
  afterAll(() => stack?.stop());

  it('sends the conversation’s system prompt to the model', async () => {
    for (const { key } of [stack.tenants.acme, stack.tenants.globex]) {
      await stack.offline.reset();
      const res = await stack.http('POST', '/v1/conversations/c1/messages', { content: 'hello', messageId: 'm1' }, key);
      expect(res.status).toBe(200);
      const [reply] = await stack.offline.requests();
      expect(JSON.stringify((reply as { body: { system: unknown } }).body.system)).toContain(prompt);
    }
  });

  it('keeps no plaintext copy of the prompt in any table', async () => {
    const { db } = stack.serving.services;
    expect(await tablesHolding(db, 'PROMPT-SECRET')).toEqual([]);
    const stored = await db.query<{ system_prompt: string }>(
      'SELECT system_prompt FROM conversations WHERE tenant_id = $1',
      [stack.tenants.acme.id],
    );
    expect(stored.map((r) => r.system_prompt.startsWith('memoir-enc:v2:'))).toEqual([true]);
  });

  it('shares nothing between two tenants with the same prompt: no row, no name', async () => {
    const { db } = stack.serving.services;
    const tenants = [stack.tenants.acme.id, stack.tenants.globex.id];
    const named = await db.query<{ tenant_id: string; name: string }>(
      `SELECT tenant_id, manifest ->> 'systemPromptSha' AS name FROM context_manifests WHERE tenant_id = ANY($1)`,
      [tenants],
    );
    const names = tenants.map((t) => named.find((r) => r.tenant_id === t)?.name);
    expect(names.every((n) => typeof n === 'string' && n.length > 0)).toBe(true);
    expect(names[0]).not.toBe(names[1]);
    // Not a content hash anyone could compute and compare.
    expect(names).not.toContain(sha256(prompt));
    const rows = await db.query<{ tenant_id: string; digest: string; text: string }>(
      'SELECT tenant_id, digest, text FROM conversation_system_prompts WHERE tenant_id = ANY($1) ORDER BY tenant_id',
      [tenants],
    );
    expect(rows.map((r) => r.tenant_id).sort()).toEqual([...tenants].sort());
    expect(new Set(rows.map((r) => r.digest)).size).toBe(2);
    expect(new Set(rows.map((r) => r.text)).size).toBe(2);
  });

  it('leaves no decryptable copy of the prompt once its user is erased', async () => {
    const { db, eraser, encryption, conversations } = stack.serving.services;
    const acme = stack.tenants.acme.id;
    // What a backup taken now would hold.
    const copies = [
      ...(await db.query<{ v: string }>('SELECT system_prompt AS v FROM conversations WHERE tenant_id = $1', [acme])),
      ...(await db.query<{ v: string }>('SELECT text AS v FROM conversation_system_prompts WHERE tenant_id = $1', [
        acme,
      ])),
    ].map((r) => r.v);
    expect(copies.length).toBeGreaterThanOrEqual(2);

    await eraser.eraseUser(acme, 'ada');
    expect(await db.query('SELECT 1 FROM conversation_system_prompts WHERE tenant_id = $1', [acme])).toEqual([]);
    const { text } = encryption.encryption!;
    for (const copy of copies) await expect(text.decryptText(copy, acme)).rejects.toThrow(KeyDestroyedError);
    // The other tenant's Ada keeps hers.
    expect((await conversations.get(stack.tenants.globex.id, 'c1'))?.systemPrompt).toBe(prompt);
  });
});

describe('migration 008 on prompts stored before it', () => {
  it('copies each prompt to the conversations that used it, reads it as it was, and seals new ones', async () => {
    const database = await freshDatabase();
    const db = openPostgres(database.url, 2);
    try {
      await migrate(db);
      // Back to the schema before 008: one table shared by every tenant, by sha256, and a manifest naming a row.
      await db.exec(`
        DROP TABLE conversation_system_prompts;
        DELETE FROM schema_migrations WHERE version LIKE '008_%';
        CREATE TABLE system_prompts (sha256 text PRIMARY KEY, text text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());`);
      const legacy = 'You are a legacy assistant.';
      await db.query(
        `INSERT INTO conversations (tenant_id, conversation_id, user_id, system_prompt) VALUES ($1, $2, $3, $4)`,
        ['t1', 'c1', 'u1', legacy],
      );
      await db.query('INSERT INTO system_prompts (sha256, text) VALUES ($1, $2)', [sha256(legacy), legacy]);
      await db.query(
        `INSERT INTO context_manifests (tenant_id, conversation_id, message_id, manifest) VALUES ($1, $2, $3, $4)`,
        [
          't1',
          'c1',
          'm1',
          JSON.stringify({ version: 2, messageId: 'm1', systemPromptSha: sha256(legacy), userContent: 'hi' }),
        ],
      );

      expect(await migrate(db)).toEqual(['008_conversation_system_prompts']);
      const encryption = openEncryption(
        db,
        loadCodecSettings({ MEMOIR_MASTER_KEYS: MASTER_KEYS, MEMOIR_ENCRYPT_AT_REST: 'true' }),
      )!;
      const sealer: MessageSealer = {
        seal: (tenantId, _user, text) => encryption.text.encryptText({ tenantId }, text),
        open: (tenantId, stored) => encryption.text.decryptText(stored, tenantId),
        digest: (tenantId, _user, text) => encryption.text.digestText({ tenantId }, text),
      };
      const manifests = new ManifestStore(db, sealer);
      expect(await manifests.systemPrompt('t1', 'c1', sha256(legacy))).toBe(legacy);
      expect((await new ConversationStore(db, sealer).get('t1', 'c1'))?.systemPrompt).toBe(legacy);
      expect(await db.query(`SELECT to_regclass('system_prompts') AS t`)).toEqual([{ t: null }]);

      const name = await manifests.putSystemPrompt('t1', 'c1', 'u1', 'A new prompt.');
      const [row] = await db.query<{ text: string }>('SELECT text FROM conversation_system_prompts WHERE digest = $1', [
        name,
      ]);
      expect(row!.text).toMatch(/^memoir-enc:v2:/);
      expect(await manifests.systemPrompt('t1', 'c1', name)).toBe('A new prompt.');
    } finally {
      await db.close();
      await database.drop();
    }
  });
});
