-- Each message's length as lexical recall's BM25 counts it (src/memory/lexical.ts): every position of every lexeme
-- of to_tsvector('english', content). Stored, so the average length over a conversation is a cheap aggregate
-- rather than a to_tsvector of every message on every turn. Runs on PostgreSQL and PGlite alike.
CREATE OR REPLACE FUNCTION memoir_tsvector_tokens(tsv tsvector) RETURNS integer
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT coalesce(sum(coalesce(array_length(u.positions, 1), 1)), 0)::integer FROM unnest(tsv) AS u $$;
ALTER TABLE messages ADD COLUMN IF NOT EXISTS content_tokens integer
  GENERATED ALWAYS AS (memoir_tsvector_tokens(to_tsvector('english', content))) STORED;
