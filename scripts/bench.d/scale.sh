# Section 5: 1, 10 and 50 services on one host: install all, switch all one
# after another and 10 at a time, and status of all; each op's peak RSS.
log "scale: 1, 10 and 50 services"
SCALE=$D/bench-scale.txt
RSS=$D/bench-scale-rss.txt
# timed_each CONFIGS... : runs "$OP" on each, at most $PAR at once; prints the seconds.
timed_each() {
  local t0 t1
  t0=$(now_ms)
  # A failed run is counted (FAILED), not fatal: the table says how many.
  printf '%s\n' "$@" | xargs -P "$PAR" -I{} /usr/bin/time -a -o "$RSS" -f "$OP %M" \
    sh -c "\"$BGCTL\" --config {} $ARGS >/dev/null 2>>\"$D/bench-scale-errors.txt\" || echo $OP >> \"$D/bench-scale-failed.txt\"" || true
  t1=$(now_ms)
  awk -v ms="$((t1 - t0))" 'BEGIN { printf "%.1f", ms / 1000 }'
}
echo "## 5. Scale on one host (seconds for all; peak RSS of one bgctl in MiB)"
printf '  %-9s %-9s %-15s %-15s %-15s %-9s\n' services install "switch 1 by 1" "per switch" "10 at a time" "status"
: > "$RSS"
: > "$D/bench-scale-failed.txt"
: > "$D/bench-scale-errors.txt"
for n in 1 10 50; do
  configs=()
  for i in $(seq 0 $((n - 1))); do
    c=$(scripts/service-config "bench_s$i" $((18600 + i)) $((18700 + i)) $((18800 + i)))
    configs+=("$c"); SERVICES+=("$c")
  done
  PAR=1 OP=install ARGS=install; install=$(timed_each "${configs[@]}")
  PAR=10 OP=first ARGS="switch --image bgctl-demo:v1"; timed_each "${configs[@]}" >/dev/null
  PAR=1 OP=switch ARGS="switch --image bgctl-demo:v2"; seq_s=$(timed_each "${configs[@]}")
  PAR=10 OP=switch10 ARGS="switch --image bgctl-demo:v1"; par_s=$(timed_each "${configs[@]}")
  PAR=1 OP=status ARGS=status; status_s=$(timed_each "${configs[@]}")
  per=$(awk -v s="$seq_s" -v n="$n" 'BEGIN { printf "%.2f", s / n }')
  printf '  %-9s %-9s %-15s %-15s %-15s %-9s %s\n' "$n" "$install" "$seq_s" "$per" "$par_s" "$status_s" \
    "failed: $(sort "$D/bench-scale-failed.txt" | uniq -c | awk '{ printf "%s%s %s", s, $2, $1; s = ", " }')"
  : > "$D/bench-scale-failed.txt"
  echo "$n $install $seq_s $per $par_s $status_s" >> "$SCALE"
  # The next size starts from none.
  printf '%s\n' "${configs[@]}" | xargs -P 10 -I{} sh -c "\"$BGCTL\" --config {} uninstall >/dev/null 2>&1"
  SERVICES=()
done
one=$(awk '$1 == 1 { print $4 }' "$SCALE")
fifty=$(awk '$1 == 50 { print $5 / 5 }' "$SCALE")
echo "  50 services, 10 at a time: $fifty s per batch of 10 = $(awk -v b="$fifty" -v o="$one" 'BEGIN { printf "%.1f", b / o }')x one service's switch ($one s)"
echo "  peak RSS (MiB, the largest of each op):"
for op in install first switch switch10 status; do
  printf '    %-9s %s\n' "$op" "$(awk -v o="$op" '$1 == o && $2 > m { m = $2 } END { printf "%.1f", m / 1024 }' "$RSS")"
done
