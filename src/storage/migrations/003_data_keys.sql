-- Data keys for payload and at-rest encryption: one random AES-256 key per scope and version, stored only
-- wrapped (AES-256-GCM) by a master key that lives outside the database. Scopes: 'system', 't/<tenant>',
-- 't/<tenant>/u/<user>'. Destroying a key clears its wrapped bytes for good (crypto-shredding): whatever it
-- encrypted, in immutable Temporal histories included, can no longer be read.
CREATE TABLE data_keys (
  scope            text        NOT NULL,
  version          integer     NOT NULL CHECK (version > 0),
  -- base64(iv | tag | ciphertext); NULL once destroyed.
  wrapped          text,
  master_key_id    text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  destroyed_at     timestamptz,
  PRIMARY KEY (scope, version),
  CHECK ((wrapped IS NULL) = (destroyed_at IS NOT NULL)),
  CHECK ((wrapped IS NULL) = (master_key_id IS NULL))
);

-- rewrapAll() looks for live keys wrapped by a master key other than the current one.
CREATE INDEX data_keys_live_by_master ON data_keys (master_key_id) WHERE destroyed_at IS NULL;
