# Section 2: where a switch goes, phase by phase, under the standard load.
PHASE_SWITCHES=${PHASE_SWITCHES:-20}
log "phases: $PHASE_SWITCHES switches of the demo under the standard load"
PH=$(service bench_ph 18421 18422 18491)
RUNS=$D/bench-phases.txt
: > "$RUNS"
load_start "http://127.0.0.1:18491/" -c 8 -q 50
release=(bgctl-demo:v2 bgctl-demo:v1)
for i in $(seq 1 "$PHASE_SWITCHES"); do
  t0=$(now_ms)
  json=$("$BGCTL" --config "$PH" --json switch --image "${release[$((i % 2))]}" 2>/dev/null)
  t1=$(now_ms)
  # "phases_ms":{"lock":3,...} -> "wall=… lock=3 …"
  echo "wall=$((t1 - t0)) $(grep -o '"phases_ms":{[^}]*}' <<< "$json" | sed 's/.*{//; s/}//; s/"//g; s/:/=/g; s/,/ /g')" >> "$RUNS"
done
load_stop
phase() { grep -o "\b$1=[0-9]*" "$RUNS" | cut -d= -f2; }
echo "## 2. Where a switch goes ($PHASE_SWITCHES switches, ms, median / p95)"
for p in lock read converge start healthy checks flip proxy verify guard drain stop; do
  printf '  %-10s %s\n' "$p" "$(phase "$p" | stats)"
done
printf '  %-10s %s\n' wall "$(phase wall | stats)"
# bgctl's own: the wall time but the container's start to its first passing
# probe (start + healthy) and the stop job.
overhead=$(paste <(phase wall) <(phase start) <(phase healthy) <(phase stop) | awk '{ print $1 - $2 - $3 - $4 }')
printf '  %-10s %s   (wall - start - healthy - stop; the drain is in it)\n' overhead "$(stats <<< "$overhead")"
echo "  requests during the switches: $(load_total), failed: $(load_failed)"
