# Shared by scripts/bench's sections: services, load and statistics.

log() { printf 'bench: %s\n' "$*" >&2; }

# The images a section needs beyond the test environment's: a release that
# listens only after 6 s.
build_images() {
  printf 'FROM bgctl-demo:v2\nENV DEMO_STARTUP_DELAY=6s\n' \
    | DOCKER_BUILDKIT=0 docker -H "$BGCTL_TEST_DOCKER_HOST" build -q -t bgctl-demo:slow6 - >/dev/null
}

# service NAME BLUE GREEN LISTEN [EXTRA...]: a config, installed, with v1
# live; uninstalled at exit. Prints the config's path.
SERVICES=()
service() {
  local config
  config=$(scripts/service-config "$@")
  sed -i 's/^\[proxy\]$/[health]\ntimeout = "20s"\n[proxy]/' "$config"
  "$BGCTL" --config "$config" install >/dev/null 2>&1
  "$BGCTL" --config "$config" switch --image bgctl-demo:v1 >/dev/null 2>&1
  SERVICES+=("$config")
  echo "$config"
}
uninstall_all() {
  local c
  for c in "${SERVICES[@]}"; do "$BGCTL" --config "$c" uninstall >/dev/null 2>&1 || true; done
  SERVICES=()
}
trap_add() { local old; old=$(trap -p EXIT | sed "s/^trap -- '\(.*\)' EXIT$/\1/"); trap "$1${old:+; $old}" EXIT; }
trap_add uninstall_all

# Load: `load_start URL ARGS...` runs hey in the background until
# `load_stop`, which leaves its report in $LOAD_OUT.
LOAD_OUT=$D/bench-load.txt
load_start() {
  local url=$1; shift
  hey -z 900s -t 10 "$@" "$url" > "$LOAD_OUT" 2>&1 &
  LOAD_PID=$!
  sleep 0.5
}
load_stop() {
  sleep 0.5
  kill -INT "$LOAD_PID" 2>/dev/null || true
  wait "$LOAD_PID" 2>/dev/null || true
}
# Requests in the last report, and those that failed (not 2xx, or an error).
load_total() { awk '/Status code distribution/ { s = 1; next } /^$/ { s = 0 } s && /responses/ { t += $2 }
                    /Error distribution/ { e = 1; next } e && /^[[:space:]]*\[/ { x = $1; gsub(/[^0-9]/, "", x); t += x }
                    END { print t + 0 }' "$LOAD_OUT"; }
load_failed() { awk '/Status code distribution/ { s = 1; next } /Error distribution/ { s = 0; e = 1; next }
                     s && /responses/ && $1 !~ /^\[2/ { f += $2 } e && /^[[:space:]]*\[/ { x = $1; gsub(/[^0-9]/, "", x); f += x }
                     END { print f + 0 }' "$LOAD_OUT"; }
# "  99% in 0.0012 secs" -> milliseconds
load_pct() { awk -v p="$1%" '$1 == p { printf "%.2f", $3 * 1000 }' "$LOAD_OUT"; }

# Milliseconds since the epoch.
now_ms() { date +%s%3N; }

# `stats` reads numbers, one per line: "median p95 (n)".
stats() {
  sort -n | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "-"; exit }
    m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    i = int(0.95 * NR + 0.999999); if (i < 1) i = 1; if (i > NR) i = NR
    printf "%g / %g (n=%d)", m, v[i], NR }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

# The HTTP status nginx answers on a port now.
answers() { curl -s -o /dev/null -m 3 -w '%{http_code}' "http://127.0.0.1:$1/" || true; }

# Peak RSS in KiB of a command (`rss_of CMD...`; its output discarded).
rss_of() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }
