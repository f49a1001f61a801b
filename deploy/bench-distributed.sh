#!/usr/bin/env bash
# Measures checkout on the distributed profile on one machine, the way
# BENCHMARKS.md ("Checkout on the distributed profile") records it:
# PostgreSQL 15 (fsync=on, synchronous_commit=on), redis-server, mercato
# broker and the roles as separate processes, then pgbench -N against the
# same server as the ceiling. Everything runs under a temp dir on loopback
# ports and is stopped on exit.
#
#   deploy/bench-distributed.sh [mercato binary] [clients] [api processes]
#
# DURATION (default 10s) is each run's length; PGSTAT=1 loads
# pg_stat_statements and prints the statements that took PostgreSQL's time;
# CHECKOUT_BATCHES=0 runs the roles with --postgres-checkout-batches=false
# (checkouts in transactions of their own; batches are the default);
# OTHER_ROLES (default every role but api) is what the second process runs:
# OTHER_ROLES=outbox-relay measures checkout with the consumers of its
# events on other machines, as a deployment that scales them out has them.
#
# Needs Debian's postgresql (initdb, pg_ctl, pgbench) and redis-server. As
# root, PostgreSQL runs as the postgres user.
set -euo pipefail

BIN=${1:-$(command -v mercato || echo ./mercato)}
CLIENTS=${2:-16,64}
APIS=${3:-1}
PGBIN=/usr/lib/postgresql/15/bin
DURATION=${DURATION:-10s}
PGPORT=25432 REDISPORT=26379 KAFKAPORT=29092
TOKEN=bench-admin-token-0123456789

WORK=$(mktemp -d /tmp/mercato-dist-bench.XXXXXX)
PIDS=()
declare -A NAMES
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	as_pg "$PGBIN/pg_ctl" -D "$WORK/pg" -m fast stop >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT

as_pg() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

mkdir -p "$WORK/pg"
[ "$(id -u)" = 0 ] && chown postgres "$WORK" "$WORK/pg"
as_pg "$PGBIN/initdb" -D "$WORK/pg" -U postgres --auth=trust >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$WORK/pg" -l "$WORK/pg/log" -w -o \
	"-p $PGPORT -k $WORK -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on -c max_connections=300 -c shared_buffers=256MB${PGSTAT:+ -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all}" start >/dev/null
as_pg "$PGBIN/createdb" -h 127.0.0.1 -p $PGPORT -U postgres mercato
as_pg "$PGBIN/createdb" -h 127.0.0.1 -p $PGPORT -U postgres pgb

redis-server --port $REDISPORT --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
NAMES[$!]=redis
"$BIN" broker --data-dir "$WORK/broker" --kafka-listen 127.0.0.1:$KAFKAPORT >"$WORK/broker.log" 2>&1 &
PIDS+=($!)
NAMES[$!]=broker
for _ in $(seq 1 120); do
	(exec 3<>/dev/tcp/127.0.0.1/$KAFKAPORT) 2>/dev/null && break
	sleep 0.5
done

DIST=(--profile distributed --kafka-brokers 127.0.0.1:$KAFKAPORT
	--db "postgres://postgres@127.0.0.1:$PGPORT/mercato?sslmode=disable"
	--redis-addr 127.0.0.1:$REDISPORT --admin-token $TOKEN)
if [ "${CHECKOUT_BATCHES:-1}" = 0 ]; then
	DIST+=(--postgres-checkout-batches=false)
fi
wait_ready() {
	for _ in $(seq 1 120); do
		curl -fsS "$1/readyz" >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	echo "no ready server at $1; the end of its log:" >&2
	tail -n 20 "$2" >&2
	return 1
}
"$BIN" serve "${DIST[@]}" --http-addr 127.0.0.1:28090 --data-dir "$WORK/roles" \
	--roles "${OTHER_ROLES:-outbox-relay,pricing,inventory-alerts,replenishment,lake-sink,reports,reviews}" >"$WORK/roles.log" 2>&1 &
PIDS+=($!)
NAMES[$!]=other-roles
wait_ready http://127.0.0.1:28090 "$WORK/roles.log"
URLS=""
for i in $(seq 1 "$APIS"); do
	port=$((28079 + i))
	"$BIN" serve "${DIST[@]}" --http-addr 127.0.0.1:$port --data-dir "$WORK/api$i" --roles api >"$WORK/api$i.log" 2>&1 &
	PIDS+=($!)
	NAMES[$!]=api$i
	wait_ready http://127.0.0.1:$port "$WORK/api$i.log"
	URLS="$URLS${URLS:+,}http://127.0.0.1:$port"
done

# cpu_ticks is the CPU time (user + system, in clock ticks) of the
# processes given, summed.
cpu_ticks() {
	local total=0 p
	for p in "$@"; do
		[ -r "/proc/$p/stat" ] && total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat")))
	done
	echo "$total"
}
pg_pids() { pgrep -u postgres -d' ' postgres || true; }
TICK=$(getconf CLK_TCK)

echo "load average at start: $(cut -d' ' -f1 /proc/loadavg)"
if [ -n "${PGSTAT:-}" ]; then
	as_pg "$PGBIN/psql" -h 127.0.0.1 -p $PGPORT -U postgres -qc 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements' mercato
	as_pg "$PGBIN/psql" -h 127.0.0.1 -p $PGPORT -U postgres -qAtc 'SELECT pg_stat_statements_reset()' mercato >/dev/null
fi
declare -A before
for p in "${PIDS[@]}"; do before[$p]=$(cpu_ticks "$p"); done
read -r -a pgs <<<"$(pg_pids)"
before_pg=$(cpu_ticks "${pgs[@]}")
"$BIN" bench orders --url "$URLS" --admin-token $TOKEN --clients "$CLIENTS" --duration "$DURATION"
read -r -a pgs <<<"$(pg_pids)"
printf 'CPU seconds during the runs:'
for p in "${PIDS[@]}"; do
	printf ' %s %s,' "${NAMES[$p]}" "$(awk -v a="$(cpu_ticks "$p")" -v b="${before[$p]}" -v k="$TICK" 'BEGIN {printf "%.1f", (a - b) / k}')"
done
printf ' PostgreSQL about %s (backends that lived through the runs)\n' "$(awk -v a="$(cpu_ticks "${pgs[@]}")" -v b="$before_pg" -v k="$TICK" 'BEGIN {printf "%.1f", (a - b) / k}')"
if [ -n "${PGSTAT:-}" ]; then
	as_pg "$PGBIN/psql" -h 127.0.0.1 -p $PGPORT -U postgres -P pager=off -c "SELECT calls, round(total_exec_time::numeric, 0) AS ms, round(mean_exec_time::numeric, 3) AS mean_ms, left(regexp_replace(query, '\s+', ' ', 'g'), 90) AS query FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 25" mercato
fi

as_pg "$PGBIN/pgbench" -h 127.0.0.1 -p $PGPORT -U postgres -i -q pgb >/dev/null 2>&1
for c in ${CLIENTS//,/ }; do
	printf 'pgbench -N -c %s: ' "$c"
	as_pg "$PGBIN/pgbench" -h 127.0.0.1 -p $PGPORT -U postgres -N -c "$c" -j 2 -T 10 pgb 2>/dev/null |
		awk '/^tps/ {print $3 " tps"} /latency average/ {printf "latency avg %s ms, ", $4}'
done
