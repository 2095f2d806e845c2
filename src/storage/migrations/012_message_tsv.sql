-- Each message's lexemes, stored: lexical recall (src/memory/lexical.ts) reads them instead of running
-- to_tsvector('english', content) over every message of the conversation on every turn, which was most of a turn's
-- context step (about 0.1 ms per message, twice per candidate). The GIN index moves to the stored column, and the
-- expression index of 002 goes (nothing else searches messages by that expression). Without a pending list
-- (fastupdate off) a search never scans unmerged entries, and the planner costs the index as it is: a turn adds two
-- short messages, a cheap direct insert. Runs on PostgreSQL and PGlite.
ALTER TABLE messages ADD COLUMN IF NOT EXISTS content_tsv tsvector
  GENERATED ALWAYS AS (to_tsvector('english', content)) STORED;
CREATE INDEX IF NOT EXISTS messages_content_tsv ON messages USING gin (content_tsv) WITH (fastupdate = off);
DROP INDEX IF EXISTS messages_content_fts;
