/**
 * The fact store on a real PostgreSQL: several values of one subject coexist, only a contradiction supersedes; and
 * extraction reads a backlog in order, the watermark never passing what was read.
 */
import { FactStore, factsBatch } from '../../src/memory/facts';
import { ConversationStore } from '../../src/storage/conversations';
import { openPostgres, type Db } from '../../src/storage/db';
import { migrate } from '../../src/storage/migrate';
import { freshDatabase } from '../helpers/stack';

describe('facts', () => {
  let db: Db;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const database = await freshDatabase();
    db = openPostgres(database.url);
    drop = async () => (await db.close(), await database.drop());
    await migrate(db);
    await new ConversationStore(db).create('t', 'c', 'u');
  });
  afterAll(() => drop?.());

  it('keeps several values of a multi-valued subject, and lets a single-valued one be superseded', async () => {
    const facts = new FactStore(db);
    const scope = { tenantId: 't', conversationId: 'c', userId: 'u' };
    const hobby = (text: string) => ({ kind: 'fact' as const, subject: 'hobbies', text, sourceMessageIds: [] });
    await facts.merge(scope, [{ ...hobby('The user paints.'), multiValued: true }], 2);
    await facts.merge(scope, [{ ...hobby('The user plays chess.'), multiValued: true }], 4);
    const city = { kind: 'fact' as const, subject: 'home city', sourceMessageIds: [] };
    await facts.merge(scope, [{ ...city, text: 'The user lives in Oslo.' }], 6);
    await facts.merge(scope, [{ ...city, text: 'The user moved to Bergen.' }], 8);
    const all = await facts.all('t', 'c');
    expect(all.filter((f) => f.subject === 'hobbies').map((f) => [f.text, f.status])).toEqual([
      ['The user paints.', 'active'],
      ['The user plays chess.', 'active'],
    ]);
    expect(all.filter((f) => f.subject === 'home city').map((f) => [f.text, f.status])).toEqual([
      ['The user lives in Oslo.', 'superseded'],
      ['The user moved to Bergen.', 'active'],
    ]);
  });

  it('reads a backlog oldest first and moves the watermark only past what it read', () => {
    const backlog = Array.from({ length: 150 }, (_, i) => ({ seq: 11 + i }));
    let through = 10;
    const read: number[] = [];
    for (let rounds = 0; rounds < 10 && through < 160; rounds++) {
      const batch = factsBatch(backlog.filter((m) => m.seq > through));
      read.push(...batch.messages.map((m) => m.seq));
      through = batch.throughSeq!;
    }
    // Every message of the backlog was read exactly once, in order.
    expect(read).toEqual(backlog.map((m) => m.seq));
    expect(factsBatch([]).throughSeq).toBeUndefined();
  });
});
