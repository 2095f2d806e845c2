-- Event time and provenance (issue 13). A message may say when it was said (`sentAt`: an imported conversation, a
-- message written offline); context renders that date rather than when the row was stored. A fact keeps the date
-- of the newest message it came from, so a recalled fact says when it held. Both NULL when unknown (rows written
-- before this migration, messages sent without a date): readers fall back to created_at.
ALTER TABLE messages ADD COLUMN IF NOT EXISTS sent_at timestamptz;
ALTER TABLE facts ADD COLUMN IF NOT EXISTS event_at timestamptz;
-- Participant names (optional, given when the conversation is created): recall labels lines with them, and a
-- question that names a participant favours what that participant said.
ALTER TABLE conversations ADD COLUMN IF NOT EXISTS user_name text;
ALTER TABLE conversations ADD COLUMN IF NOT EXISTS assistant_name text;
