#!/usr/bin/env bash
# How long migration 012 (messages.content_tsv, a table rewrite) takes for N messages, on a scratch database it
# creates and drops on the given server (default: the test PostgreSQL). The figures in docs/operations.md come from it.
# Usage: time-migration-012.sh [N=200000] [server URL=postgres://memoir@127.0.0.1:55432]
set -euo pipefail
N=${1:-200000}
BASE=${2:-postgres://memoir@127.0.0.1:55432}
DB=memoir_scratch_mig012
M="$(cd "$(dirname "$0")/../src/storage/migrations" && pwd)"
P=(psql -q -v ON_ERROR_STOP=1 "$BASE/$DB")
psql -q "$BASE/postgres" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
trap 'psql -q "$BASE/postgres" -c "DROP DATABASE IF EXISTS $DB"' EXIT
"${P[@]}" -f "$M/001_conversations.sql"
# 100 messages per conversation, ~300 characters of English words each (the lexemes' cost grows with the text).
"${P[@]}" <<SQL
INSERT INTO conversations (tenant_id, conversation_id, user_id) SELECT 't', 'c' || i, 'u' FROM generate_series(1, $N / 100) i;
WITH words AS (SELECT string_to_array('I we you the a boat garden tomato basil sailing weekend sister brother told said went bought planted harbour morning evening remember because never always again trip Lisbon Paris meeting project deadline birthday dinner recipe friend weather rain sunny painting guitar lesson', ' ') AS w)
INSERT INTO messages (tenant_id, conversation_id, seq, message_id, role, content)
SELECT 't', 'c' || (1 + (i - 1) / 100), 1 + (i - 1) % 100, 'm' || i, CASE WHEN i % 2 = 0 THEN 'assistant' ELSE 'user' END,
       (SELECT string_agg(w[1 + floor(random() * array_length(w, 1))::int], ' ') FROM words, generate_series(1, 45 + (i % 3)) g)
  FROM generate_series(1, $N) i;
SQL
# The migrations before 012, on the filled table (as a deployment meets them).
for f in $(ls "$M" | grep -v pglite | sort | sed -n '/^002/,/^011/p'); do "${P[@]}" -f "$M/$f"; done
"${P[@]}" -c 'VACUUM ANALYZE messages'
echo "messages: $("${P[@]}" -At -c 'SELECT count(*) FROM messages'), average $("${P[@]}" -At -c 'SELECT round(avg(length(content))) FROM messages') characters, $("${P[@]}" -At -c "SELECT pg_size_pretty(pg_total_relation_size('messages'))") with indexes; load average $(cut -d' ' -f1-3 /proc/loadavg)"
psql -v ON_ERROR_STOP=1 "$BASE/$DB" -c '\timing on' -1 -f "$M/012_message_tsv.sql"
echo "after: $("${P[@]}" -At -c "SELECT pg_size_pretty(pg_total_relation_size('messages'))"); load average $(cut -d' ' -f1-3 /proc/loadavg)"
