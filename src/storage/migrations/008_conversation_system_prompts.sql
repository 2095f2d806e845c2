-- System prompts per conversation, no longer shared across tenants by a global content hash (issue 12). A copy
-- belongs to one conversation and goes with it (erasure of the conversation, its user or its tenant). New rows
-- are sealed for the owner like message text when MEMOIR_ENCRYPT_AT_REST is on, and named by a digest keyed with
-- the owner's data key; the rows copied below from the old shared table stay plaintext, named by their sha256
-- (what their manifests name), and are read as they are.
CREATE TABLE conversation_system_prompts (
  tenant_id        text        NOT NULL,
  conversation_id  text        NOT NULL,
  digest           text        NOT NULL,
  text             text        NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, conversation_id, digest),
  FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations ON DELETE CASCADE
);

INSERT INTO conversation_system_prompts (tenant_id, conversation_id, digest, text)
SELECT DISTINCT m.tenant_id, m.conversation_id, p.sha256, p.text
  FROM context_manifests m
  JOIN system_prompts p ON p.sha256 = m.manifest ->> 'systemPromptSha';

DROP TABLE system_prompts;
