-- Append-only summary segments (issue 13, "a cache-stable prompt"). A row with `segment` true summarises only the
-- messages after the previous row's to_seq; the archive a turn sends is the newest full summary (segment false) and
-- every segment after it, each in its own prompt block, so a fold appends a block and the cached prefix before it is
-- still read. Rows written before this migration are full summaries, and render as before.
ALTER TABLE summaries ADD COLUMN IF NOT EXISTS segment boolean NOT NULL DEFAULT false;
