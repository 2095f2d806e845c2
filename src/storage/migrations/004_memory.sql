-- Tiered memory: rolling summaries, extracted facts, the indexing watermark and token calibration.

-- A summary version folds every message up to `to_seq` (the previous summary included). The assembler sends the
-- newest version and only the messages after it, so between compactions the prompt prefix does not change.
CREATE TABLE summaries (
  tenant_id        text        NOT NULL,
  conversation_id  text        NOT NULL,
  version          integer     NOT NULL,
  to_seq           bigint      NOT NULL,
  text             text        NOT NULL,
  tokens           integer     NOT NULL,
  source_tokens    integer     NOT NULL,
  -- Facts active when this version was written: they ride in the same cached block.
  facts            jsonb       NOT NULL DEFAULT '[]',
  model            text        NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, conversation_id, version),
  FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations ON DELETE CASCADE
);

-- Durable facts, preferences and decisions, each with the messages it came from. A new statement about the same
-- subject supersedes the old one instead of piling up next to it.
CREATE TABLE facts (
  tenant_id        text        NOT NULL,
  conversation_id  text        NOT NULL,
  fact_id          text        NOT NULL,
  user_id          text        NOT NULL,
  kind             text        NOT NULL CHECK (kind IN ('fact', 'preference', 'decision')),
  subject          text        NOT NULL,
  text             text        NOT NULL,
  source_message_ids text[]    NOT NULL DEFAULT '{}',
  status           text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'superseded')),
  superseded_by    text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, conversation_id, fact_id),
  FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations ON DELETE CASCADE
);
CREATE INDEX facts_active ON facts (tenant_id, conversation_id, subject) WHERE status = 'active';
CREATE INDEX facts_by_user ON facts (tenant_id, user_id);

-- Messages not yet in the semantic index have indexed_at NULL: the index catches up from here after an outage.
ALTER TABLE messages ADD COLUMN indexed_at timestamptz;
CREATE INDEX messages_unindexed ON messages (tenant_id, conversation_id, seq) WHERE indexed_at IS NULL;

-- Up to which message facts have been extracted.
ALTER TABLE conversations ADD COLUMN facts_through_seq bigint NOT NULL DEFAULT 0;

-- Our token estimate corrected per model by what the API reported (actual / estimated), kept across restarts.
CREATE TABLE token_calibration (
  model            text        PRIMARY KEY,
  ratio            double precision NOT NULL,
  samples          integer     NOT NULL,
  updated_at       timestamptz NOT NULL DEFAULT now()
);
