-- Durable tool use (issue 16). A conversation's tools are chosen at creation; none means text only.
ALTER TABLE conversations ADD COLUMN IF NOT EXISTS tools text[] NOT NULL DEFAULT '{}';

-- The assistant's content of each model step that stopped for tool_use (text and tool_use blocks, JSON, sealed
-- like message rows when encryption at rest is on): the next step's request is rebuilt from these rows and the
-- tool_calls results, so neither inputs nor results travel through workflow history.
CREATE TABLE tool_steps (
  tenant_id        text        NOT NULL,
  conversation_id  text        NOT NULL,
  message_id       text        NOT NULL,
  step             integer     NOT NULL,
  model            text        NOT NULL,
  content          text        NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, conversation_id, message_id, step),
  FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations ON DELETE CASCADE
);

-- One row per tool_use block. `started_at` is the at-most-once mark of a non-idempotent tool: a later attempt that
-- finds it without an outcome does not run the tool again (outcome 'not_rerun').
CREATE TABLE tool_calls (
  tenant_id        text        NOT NULL,
  conversation_id  text        NOT NULL,
  message_id       text        NOT NULL,
  tool_use_id      text        NOT NULL,
  step             integer     NOT NULL,
  tool             text        NOT NULL,
  source           text        NOT NULL,
  input            text        NOT NULL,
  input_hash       text        NOT NULL,
  outcome          text,
  result           text,
  is_error         boolean     NOT NULL DEFAULT false,
  attempts         integer     NOT NULL DEFAULT 0,
  duration_ms      integer,
  approval         jsonb,
  created_at       timestamptz NOT NULL DEFAULT now(),
  started_at       timestamptz,
  completed_at     timestamptz,
  PRIMARY KEY (tenant_id, conversation_id, tool_use_id),
  FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations ON DELETE CASCADE
);
CREATE INDEX tool_calls_by_turn ON tool_calls (tenant_id, conversation_id, message_id, step);
