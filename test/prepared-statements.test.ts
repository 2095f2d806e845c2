/**
 * Statements with parameters reach a real PostgreSQL as named prepared statements (parsed and planned once per
 * connection), or unnamed when MEMOIR_PG_STATEMENTS says so; and a statement whose result columns a migration changed
 * under an open connection runs again instead of failing on its stale plan.
 */
import { openPostgres, type Db } from '../src/storage/db';
import { freshDatabase } from './helpers/stack';

describe('prepared statements', () => {
  let url: string;
  let drop: () => Promise<void>;
  const opened: Db[] = [];
  // One connection: what the statement was prepared on is where pg_prepared_statements is read.
  const open = (preparedStatements: boolean) => {
    const db = openPostgres(url, 1, { preparedStatements });
    opened.push(db);
    return db;
  };
  const prepared = async (db: Db) =>
    (await db.query<{ statement: string }>('SELECT statement FROM pg_prepared_statements')).map((r) => r.statement);

  beforeAll(async () => {
    const database = await freshDatabase();
    url = database.url;
    drop = () => database.drop();
    const setup = open(false);
    await setup.exec('CREATE TABLE notes (id int PRIMARY KEY, body text); INSERT INTO notes VALUES (1, $$one$$)');
  });
  afterAll(async () => {
    await Promise.all(opened.map((db) => db.close()));
    await drop?.();
  });

  it('prepares each statement with parameters once per connection, and none when unnamed', async () => {
    const sql = 'SELECT body FROM notes WHERE id = $1';
    const db = open(true);
    for (let i = 0; i < 3; i++) expect(await db.query(sql, [1])).toEqual([{ body: 'one' }]);
    await db.transaction(async (tx) => expect(await tx.query(sql, [1])).toEqual([{ body: 'one' }]));
    expect((await prepared(db)).filter((s) => s === sql)).toHaveLength(1);

    const unnamed = open(false);
    expect(await unnamed.query(sql, [1])).toEqual([{ body: 'one' }]);
    expect(await prepared(unnamed)).toEqual([]);
  });

  it('runs a statement again after a migration changed its result columns', async () => {
    const db = open(true);
    const sql = 'SELECT * FROM notes WHERE id = $1';
    expect(await db.query(sql, [1])).toEqual([{ id: 1, body: 'one' }]);
    // Another process migrates while this one keeps its connection and its prepared statement.
    const migrator = open(false);
    await migrator.exec('ALTER TABLE notes ADD COLUMN tag text');
    expect(await db.query(sql, [1])).toEqual([{ id: 1, body: 'one', tag: null }]);
    // In a transaction the stale plan aborts it, so the error stands; the statement is renamed, and the next
    // transaction prepares it afresh.
    await migrator.exec('ALTER TABLE notes ADD COLUMN score int');
    await expect(db.transaction((tx) => tx.query(sql, [1]))).rejects.toThrow(/cached plan must not change result type/);
    expect(await db.transaction((tx) => tx.query(sql, [1]))).toEqual([{ id: 1, body: 'one', tag: null, score: null }]);
  });
});
