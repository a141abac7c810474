#!/usr/bin/env bash
# The restore drill of docs/operations.md, on scratch PostgreSQL instances of its own (never the
# machine's server): a primary with WAL archiving, the platform's schema and a few hundred
# consultations billed for real, a base backup, more billing, a known-good moment T, then an
# "accident" (a table emptied); then
#   1. point-in-time recovery: the base backup + archived WAL replayed up to T on a new
#      instance: the accident is gone, the rows of T are all there, the books reconcile;
#   2. a logical backup: pg_dump -Fc of the primary restored into a new database with
#      pg_restore: the same rows, the books reconcile.
# Prints each step with its time. Usage: deploy/backup/restore-drill.sh [port] (default 55494;
# port+1 is used too). Needs Debian's PostgreSQL server binaries and the project's .venv.
set -euo pipefail
cd "$(dirname "$0")/../.."
PORT=${1:-55494}
RESTORE_PORT=$((PORT + 1))
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
WORK=$(mktemp -d /tmp/restore-drill.XXXXXX)
chmod 755 "$WORK"
AS_PG=()
if [ "$(id -u)" = 0 ]; then AS_PG=(runuser -u postgres --); chown postgres "$WORK"; fi
pg() { "${AS_PG[@]}" "$@"; }
PY=.venv/bin/python
say() { printf '%(%H:%M:%S)T  %s\n' -1 "$*"; }
cleanup() {
  pg "$BIN/pg_ctl" -D "$WORK/primary" -m immediate stop >/dev/null 2>&1 || true
  pg "$BIN/pg_ctl" -D "$WORK/restored" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
url() { echo "postgres://postgres@127.0.0.1:$1/$2"; }
manage() { local port=$1 db=$2; shift 2
  DATABASE_URL=$(url "$port" "$db") REDIS_URL= DEBUG=1 LOG_FORMAT=text LOG_LEVEL=WARNING \
    EMBEDDED_TICKER=0 $PY manage.py "$@"; }
counts() { "${AS_PG[@]}" "$BIN/psql" -h 127.0.0.1 -p "$1" -U postgres -d "$2" -At -c \
  "SELECT (SELECT count(*) FROM consultations_consultation WHERE status = 'active') ||
          ' active consultations, ' ||
          (SELECT count(*) FROM wallets_ledgertransaction) || ' ledger transactions, ' ||
          (SELECT count(*) FROM wallets_ledgerentry) || ' entries, sum of charges ' ||
          (SELECT coalesce(sum(total_amount), 0) FROM consultations_consultation)"; }

say "scratch primary on :$PORT ($BIN), WAL archived to $WORK/wal"
pg mkdir -p "$WORK/wal"
pg "$BIN/initdb" -D "$WORK/primary" -U postgres --auth=trust >/dev/null
cat >>"$WORK/primary/postgresql.conf" <<CONF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$WORK'
wal_level = replica
archive_mode = on
archive_command = 'test ! -f $WORK/wal/%f && cp %p $WORK/wal/%f'
archive_timeout = 60
CONF
pg "$BIN/pg_ctl" -D "$WORK/primary" -l "$WORK/primary.log" -w start >/dev/null
pg "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres consult

say "the platform's schema, 300 active consultations, two billing ticks"
manage "$PORT" consult migrate --noinput -v0
manage "$PORT" consult shell -c "
from datetime import timedelta
from django.utils import timezone
from consultations.loadgen import create_active_sessions
from consultations.services import bill_due_consultations
now = timezone.now()
create_active_sessions(300, started_at=now - timedelta(minutes=5), balance=1_000_000)
bill_due_consultations(now=now - timedelta(minutes=4))
bill_due_consultations(now=now - timedelta(minutes=3))
"
say "base backup (pg_basebackup, WAL from the archive)"
start=$(date +%s.%N)
pg "$BIN/pg_basebackup" -h 127.0.0.1 -p "$PORT" -U postgres -D "$WORK/base" -X none -c fast
say "  base backup took $(printf '%.1f' "$(echo "$(date +%s.%N) - $start" | bc)") s, $(du -sh "$WORK/base" | cut -f1)"

say "more billing after the base backup (it must come back from the WAL)"
manage "$PORT" consult shell -c "
from datetime import timedelta
from django.utils import timezone
from consultations.services import bill_due_consultations
bill_due_consultations(now=timezone.now() - timedelta(minutes=2))
bill_due_consultations(now=timezone.now() - timedelta(minutes=1))
"
manage "$PORT" consult reconcile_ledger | tail -1
AT_T=$(counts "$PORT" consult)
sleep 1
T=$("${AS_PG[@]}" "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d consult -At -c "SELECT now()")
sleep 1
say "T = $T: $AT_T"

say "a logical backup too (pg_dump -Fc)"
start=$(date +%s.%N)
pg "$BIN/pg_dump" -h 127.0.0.1 -p "$PORT" -U postgres -Fc -f "$WORK/consult.dump" consult
say "  pg_dump took $(printf '%.1f' "$(echo "$(date +%s.%N) - $start" | bc)") s, $(du -h "$WORK/consult.dump" | cut -f1)"

say "the accident after T: a mistaken script ends every consultation by hand"
pg "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d consult -q -c \
  "UPDATE consultations_consultation SET status = 'ended', end_reason = 'admin', ended_at = now()"
say "  now: $(counts "$PORT" consult)"
pg "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d consult -qAt -c "SELECT pg_switch_wal()" >/dev/null
sleep 2  # the archiver copies the last segment

say "1. point-in-time recovery to T on a new instance (:$RESTORE_PORT)"
start=$(date +%s.%N)
pg cp -a "$WORK/base" "$WORK/restored"
cat >>"$WORK/restored/postgresql.conf" <<CONF
port = $RESTORE_PORT
archive_mode = off
restore_command = 'cp $WORK/wal/%f %p'
recovery_target_time = '$T'
recovery_target_action = 'promote'
CONF
pg touch "$WORK/restored/recovery.signal"
pg "$BIN/pg_ctl" -D "$WORK/restored" -l "$WORK/restored.log" -w -t 120 start >/dev/null \
  || { tail -20 "$WORK/restored.log"; exit 1; }
for _ in $(seq 120); do
  [ "$(pg "$BIN/psql" -h 127.0.0.1 -p "$RESTORE_PORT" -U postgres -d consult -At -c 'SELECT pg_is_in_recovery()')" = f ] && break
  sleep 0.5
done
say "  recovered in $(printf '%.1f' "$(echo "$(date +%s.%N) - $start" | bc)") s: $(counts "$RESTORE_PORT" consult)"
[ "$(counts "$RESTORE_PORT" consult)" = "$AT_T" ] || { say "FAILED: the restored rows differ from T's"; exit 1; }
manage "$RESTORE_PORT" consult reconcile_ledger | tail -1

say "2. pg_restore of the logical backup into a new database"
start=$(date +%s.%N)
pg "$BIN/createdb" -h 127.0.0.1 -p "$RESTORE_PORT" -U postgres consult_from_dump
pg "$BIN/pg_restore" -h 127.0.0.1 -p "$RESTORE_PORT" -U postgres -d consult_from_dump --no-owner -j 2 "$WORK/consult.dump"
say "  restored in $(printf '%.1f' "$(echo "$(date +%s.%N) - $start" | bc)") s: $(counts "$RESTORE_PORT" consult_from_dump)"
[ "$(counts "$RESTORE_PORT" consult_from_dump)" = "$AT_T" ] || { say "FAILED: the dump's rows differ from T's"; exit 1; }
manage "$RESTORE_PORT" consult_from_dump reconcile_ledger | tail -1
say "drill passed"
