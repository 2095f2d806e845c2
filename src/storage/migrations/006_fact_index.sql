-- Active facts not yet in the semantic index have indexed_at NULL: indexing catches up on them as it does on
-- messages, so a fact extracted while Weaviate or the embedder was down is indexed once they are back.
ALTER TABLE facts ADD COLUMN indexed_at timestamptz;
CREATE INDEX facts_unindexed ON facts (tenant_id, conversation_id) WHERE indexed_at IS NULL AND status = 'active';
