# Section 6: what bgctl costs to keep: binary size and peak RSS.
log "footprint"
FP=$(service bench_fp 18451 18452 18495)
echo "## 6. Footprint"
echo "  release binary: $(stat -c %s target/release/bgctl | awk '{ printf "%.1f MiB", $1 / 1048576 }') ($(strip -o "$D/bgctl.stripped" target/release/bgctl && stat -c %s "$D/bgctl.stripped" | awk '{ printf "%.1f MiB", $1 / 1048576 }') stripped)"
echo "  peak RSS of switch: $(rss_of "$BGCTL" --config "$FP" switch --image bgctl-demo:v2 | awk '{ printf "%.1f MiB", $1 / 1024 }')"
echo "  peak RSS of status: $(rss_of "$BGCTL" --config "$FP" status | awk '{ printf "%.1f MiB", $1 / 1024 }')"
if [ -n "${WATCHER_RSS:-}" ] && [ "$WATCHER_RSS" != "-" ]; then
  echo "  peak RSS of proxy sync --watch after $MAX_SWITCHES switches (maxload): $(awk -v k="$WATCHER_RSS" 'BEGIN { printf "%.1f MiB", k / 1024 }')"
else
  echo "  proxy sync --watch: run the maxload section first"
fi
