/**
 * The fact store on a real PostgreSQL: several values of one subject coexist, only a contradiction supersedes (also
 * against a model of the rule, on random extractions); and extraction reads a backlog in order, the watermark never
 * passing what was read.
 */
import fc from 'fast-check';
import { FactStore, factId, factsBatch, normaliseSubject, type ExtractedFact } from '../../src/memory/facts';
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

  it('merges random extractions as the rule says, fact by fact in order', async () => {
    const facts = new FactStore(db);
    const conversations = new ConversationStore(db);
    // Few subjects and texts, so extractions repeat facts, contradict each other and bring old values back.
    const fact = fc.record({
      kind: fc.constant('fact' as const),
      subject: fc.constantFrom('home city', 'My home city', 'hobbies', 'pet'),
      text: fc.constantFrom('Oslo.', 'oslo', 'Bergen.', 'chess', 'a cat'),
      sourceMessageIds: fc.constant([] as string[]),
      multiValued: fc.option(fc.boolean(), { nil: undefined }),
    });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(fact, { maxLength: 6 }), { minLength: 1, maxLength: 4 }), async (batches) => {
        const conversationId = `prop-${run++}`;
        await conversations.create('t', conversationId, 'u');
        const scope = { tenantId: 't', conversationId, userId: 'u' };
        // The rule, one fact at a time: the same fact again changes nothing; another value supersedes the subject's
        // active ones unless the subject is multi-valued; a value said again comes back active.
        const expected = new Map<string, { subject: string; status: string; supersededBy: string | null }>();
        for (const [i, batch] of batches.entries()) {
          const counts = { added: 0, superseded: 0, unchanged: 0 };
          for (const f of batch as ExtractedFact[]) {
            const subject = normaliseSubject(f.subject);
            const id = factId(conversationId, subject, f.text);
            const active = [...expected].filter(([, v]) => v.subject === subject && v.status === 'active');
            if (active.some(([k]) => k === id)) {
              counts.unchanged++;
              continue;
            }
            for (const [k, v] of f.multiValued ? [] : active) {
              expected.set(k, { ...v, status: 'superseded', supersededBy: id });
              counts.superseded++;
            }
            expected.set(id, { subject, status: 'active', supersededBy: null });
            counts.added++;
          }
          const merged = await facts.merge(scope, batch, 2 * (i + 1));
          expect([merged.added.length, merged.superseded.length, merged.unchanged]).toEqual([
            counts.added,
            counts.superseded,
            counts.unchanged,
          ]);
        }
        const stored = await facts.all('t', conversationId);
        expect(
          new Map(
            stored.map((f) => [f.factId, { subject: f.subject, status: f.status, supersededBy: f.supersededBy }]),
          ),
        ).toEqual(expected);
      }),
      { numRuns: 40 },
    );
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
