-- Conversations, their messages, the context each turn was given, and every model call.

CREATE TABLE conversations (
  tenant_id        text        NOT NULL,
  conversation_id  text        NOT NULL,
  user_id          text        NOT NULL,
  system_prompt    text,
  turn_count       integer     NOT NULL DEFAULT 0,
  next_seq         bigint      NOT NULL DEFAULT 1,
  input_tokens     bigint      NOT NULL DEFAULT 0,
  output_tokens    bigint      NOT NULL DEFAULT 0,
  cache_read_tokens  bigint    NOT NULL DEFAULT 0,
  cache_write_tokens bigint    NOT NULL DEFAULT 0,
  cost_usd         numeric(18, 9) NOT NULL DEFAULT 0,
  degraded_replies integer     NOT NULL DEFAULT 0,
  created_at       timestamptz NOT NULL DEFAULT now(),
  last_message_at  timestamptz,
  PRIMARY KEY (tenant_id, conversation_id)
);
CREATE INDEX conversations_by_user ON conversations (tenant_id, user_id);

-- One row per message. A user message and its reply are written in one transaction (persistTurn):
-- the unique keys make a retried write a no-op, so a turn is stored exactly once.
CREATE TABLE messages (
  tenant_id        text        NOT NULL,
  conversation_id  text        NOT NULL,
  seq              bigint      NOT NULL,
  message_id       text        NOT NULL,
  role             text        NOT NULL CHECK (role IN ('user', 'assistant')),
  content          text        NOT NULL,
  in_reply_to      text,
  model            text,
  degraded         boolean     NOT NULL DEFAULT false,
  input_tokens     integer     NOT NULL DEFAULT 0,
  output_tokens    integer     NOT NULL DEFAULT 0,
  cache_read_tokens  integer   NOT NULL DEFAULT 0,
  cache_write_tokens integer   NOT NULL DEFAULT 0,
  cost_usd         numeric(18, 9) NOT NULL DEFAULT 0,
  created_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, conversation_id, seq),
  UNIQUE (tenant_id, conversation_id, message_id),
  FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations ON DELETE CASCADE
);
CREATE UNIQUE INDEX messages_one_reply ON messages (tenant_id, conversation_id, in_reply_to)
  WHERE in_reply_to IS NOT NULL;

-- What loadContext assembled for a turn. generateReply rebuilds the request from it, so model inputs
-- never travel through workflow history; it also answers "why did the agent say that?".
CREATE TABLE context_manifests (
  tenant_id        text        NOT NULL,
  conversation_id  text        NOT NULL,
  message_id       text        NOT NULL,
  manifest         jsonb       NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, conversation_id, message_id),
  FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations ON DELETE CASCADE
);

-- Every model call attempt, successful or not. No message text: this table outlives erasure for billing.
-- `accepted` marks the call whose reply the conversation kept; workflow totals equal the accepted rows' sums.
CREATE TABLE llm_calls (
  call_id          text        PRIMARY KEY,
  tenant_id        text        NOT NULL,
  conversation_id  text        NOT NULL,
  message_id       text        NOT NULL,
  turn             integer     NOT NULL,
  purpose          text        NOT NULL,
  model            text        NOT NULL,
  attempt          integer     NOT NULL,
  outcome          text        NOT NULL,
  error_type       text,
  input_tokens     integer     NOT NULL DEFAULT 0,
  output_tokens    integer     NOT NULL DEFAULT 0,
  cache_read_tokens      integer NOT NULL DEFAULT 0,
  cache_write_5m_tokens  integer NOT NULL DEFAULT 0,
  cache_write_1h_tokens  integer NOT NULL DEFAULT 0,
  cost_usd         numeric(18, 9) NOT NULL DEFAULT 0,
  latency_ms       integer     NOT NULL,
  request_id       text,
  accepted         boolean     NOT NULL DEFAULT false,
  created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX llm_calls_by_conversation ON llm_calls (tenant_id, conversation_id, message_id);
CREATE INDEX llm_calls_by_day ON llm_calls (tenant_id, created_at);

-- System prompts by content hash: a manifest names the prompt it used without copying it into every turn.
CREATE TABLE system_prompts (
  sha256           text        PRIMARY KEY,
  text             text        NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now()
);
