-- Erasure tombstones: what was erased and when, with no content. API keys from configuration are refused for an
-- erased tenant, and an activity that started before an erasure does not write its caches or vectors back.
CREATE TABLE erasures (
  tenant_id        text        NOT NULL,
  -- '' for the whole tenant, 'u/<userId>' for a user, 'c/<conversationId>' for a conversation.
  target           text        NOT NULL,
  erased_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, target)
);
