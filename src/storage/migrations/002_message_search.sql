-- Full-text search over messages for lexical recall (src/memory/lexical.ts). Queries must use the same expression,
-- to_tsvector('english', content), for the planner to use this index. Runs on PostgreSQL and PGlite alike.
-- Built inside the migration transaction (CONCURRENTLY is not allowed there): on a large existing messages table,
-- writes to it wait for the build.
CREATE INDEX IF NOT EXISTS messages_content_fts ON messages USING gin (to_tsvector('english', content));
