-- API keys, stored as SHA-256 digests only: a database dump does not reveal a key.
CREATE TABLE api_keys (
  key_id           text        PRIMARY KEY,
  tenant_id        text        NOT NULL,
  digest           text        NOT NULL UNIQUE,
  label            text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  revoked_at       timestamptz
);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id);

-- What redaction removed, for audit: the kind and a keyed hash of the original, never the original.
CREATE TABLE redactions (
  tenant_id        text        NOT NULL,
  conversation_id  text        NOT NULL,
  message_id       text        NOT NULL,
  stage            text        NOT NULL,
  pii_type         text        NOT NULL,
  value_hash       text        NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX redactions_by_message ON redactions (tenant_id, conversation_id, message_id);
