# Section 3: 100 consecutive switches under hey at its maximum closed-loop
# rate, against the same load with no switch; a proxy watcher follows along.
MAX_SWITCHES=${MAX_SWITCHES:-100}
log "maxload: steady state, then $MAX_SWITCHES switches under hey -c 32 (no rate limit)"
MX=$(service bench_mx 18431 18432 18492)
# A second site for the same service, kept by `proxy sync --watch` (its RSS
# is in the footprint section).
WATCH=$D/configs/bench_mx.watch.toml
sed "s#^listen = 18492#listen = 18493#; s#bench_mx.conf#bench_mx_watch.conf#" "$MX" > "$WATCH"
"$BGCTL" --config "$WATCH" proxy sync >/dev/null 2>&1 || true
"$BGCTL" --config "$WATCH" proxy sync --watch >/dev/null 2>&1 &
WATCHER=$!
trap_add "kill $WATCHER 2>/dev/null || true; rm -f $BGCTL_TEST_NGINX_SITES/bench_mx_watch.conf"
load_start "http://127.0.0.1:18492/" -c 32
sleep 14
load_stop
steady=("$(load_pct 50)" "$(load_pct 99)" "$(load_total)" "$(load_failed)")
load_start "http://127.0.0.1:18492/" -c 32
release=(bgctl-demo:v2 bgctl-demo:v1)
failed_switches=0
for i in $(seq 1 "$MAX_SWITCHES"); do
  "$BGCTL" --config "$MX" switch --image "${release[$((i % 2))]}" >/dev/null 2>&1 || failed_switches=$((failed_switches + 1))
done
load_stop
WATCHER_RSS=$(awk '/VmHWM/ { print $2 }' "/proc/$WATCHER/status" 2>/dev/null || echo "-")
echo "## 3. Zero downtime at maximum load (hey -c 32, no rate limit)"
printf '  %-28s %-10s %-10s %-10s %s\n' "" p50_ms p99_ms requests failed
printf '  %-28s %-10s %-10s %-10s %s\n' "steady state, 14 s" "${steady[@]}"
printf '  %-28s %-10s %-10s %-10s %s\n' "during $MAX_SWITCHES switches" "$(load_pct 50)" "$(load_pct 99)" "$(load_total)" "$(load_failed)"
echo "  switches that failed: $failed_switches of $MAX_SWITCHES; p99 during / steady: $(awk -v a="$(load_pct 99)" -v b="${steady[1]}" 'BEGIN { printf "%.2f", a / b }')"
