# Section 4: the control plane. `status` against the shell commands that
# answer the same, both inside the sandbox (where systemctl reaches its
# systemd); then a tracked StartUnit over D-Bus against `systemctl start`.
CONTROL_REPEATS=${CONTROL_REPEATS:-30}
log "control: status against the shell, $CONTROL_REPEATS times each"
CT=$(service bench_ct 18441 18442 18494)
cat > "$D/bench-control.sh" <<SH
#!/bin/bash
# Inside the sandbox: the milliseconds of each run, "status N" / "shell N".
export ETCDCTL_API=3
for i in \$(seq 1 $CONTROL_REPEATS); do
  t0=\$(date +%s%N)
  $BGCTL --config $CT status >/dev/null
  t1=\$(date +%s%N)
  etcdctl --endpoints=$BGCTL_TEST_ETCD get /bench_ct/instance >/dev/null
  systemctl show bench_ct_blue@18441.service >/dev/null
  systemctl show bench_ct_green@18442.service >/dev/null
  docker -H $BGCTL_TEST_DOCKER_HOST inspect bench_ct_blue >/dev/null 2>&1 || true
  docker -H $BGCTL_TEST_DOCKER_HOST inspect bench_ct_green >/dev/null 2>&1 || true
  t2=\$(date +%s%N)
  echo "status \$(( (t1 - t0) / 1000 ))"
  echo "shell \$(( (t2 - t1) / 1000 ))"
done
SH
chmod +x "$D/bench-control.sh"
scripts/test-env exec "$D/bench-control.sh" > "$D/bench-control.txt"
us() { awk -v k="$1" '$1 == k { printf "%.2f\n", $2 / 1000 }' "$D/bench-control.txt"; }
echo "## 4. Control plane"
echo "  bgctl status (ms):                      $(us status | stats)"
echo "  etcdctl get + 2 systemctl show + 2 docker inspect (ms): $(us shell | stats)"
echo "  status is $(awk -v s="$(us status | median)" -v h="$(us shell | median)" 'BEGIN { printf "%.1f", h / s }')x faster than the shell (medians)"
# Where status's time goes: its system calls.
scripts/test-env exec strace -f -c -o "$D/bench-status.strace" "$BGCTL" --config "$CT" status >/dev/null 2>&1 || true
echo "  status's system calls (strace -c -f, the top 8 by time):"
sed -n '3,10p' "$D/bench-status.strace" | sed 's/^/    /'
cp target/release/examples/bench_systemd "$D/bin/"
cat > "$BGCTL_TEST_UNIT_DIR/bgctl-bench.service" <<UNIT
[Unit]
Description=bgctl benchmark: a trivial unit
[Service]
Type=exec
ExecStart=/bin/sleep infinity
UNIT
scripts/test-env exec systemctl daemon-reload
trap_add "rm -f $BGCTL_TEST_UNIT_DIR/bgctl-bench.service; scripts/test-env exec systemctl daemon-reload"
echo "  a trivial unit, $CONTROL_REPEATS times (bench_systemd, inside the sandbox):"
scripts/test-env exec "$D/bin/bench_systemd" bgctl-bench.service "$CONTROL_REPEATS" | sed 's/^/    /'
