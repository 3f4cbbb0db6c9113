# Section 1: the classic recipe's deploy script against bgctl, in the same
# environment, with the same app and the same load.
RECIPE_REPEATS=${RECIPE_REPEATS:-3}
RECIPE_SLEEP=${RECIPE_SLEEP:-10}
R_BLUE=18401 R_GREEN=18402 R_LISTEN=18480

# The article's units: one template per color, the container on the port,
# running whatever the release tag names (its script pulls "latest").
recipe_install() {
  local color
  for color in blue green; do
    cat > "$BGCTL_TEST_UNIT_DIR/recipe_${color}@.service" <<UNIT
[Unit]
Description=the classic recipe's ${color} on %i
[Service]
Environment=DOCKER_HOST=$BGCTL_TEST_DOCKER_HOST
ExecStartPre=-/usr/bin/docker rm -f recipe_${color}
ExecStart=/usr/bin/docker run --rm --name recipe_${color} -p 127.0.0.1:%i:9000 bgctl-demo:recipe
ExecStop=/usr/bin/docker stop recipe_${color}
UNIT
  done
  scripts/test-env exec systemctl daemon-reload
  mkdir -p "$D/recipe"
  # confd's template: the port from etcd.
  printf 'server {\n    listen %s;\n    location / {\n        proxy_pass http://127.0.0.1:{{port}};\n    }\n}\n' \
    "$R_LISTEN" > "$D/recipe/site.tmpl"
  etcdctl --endpoints="$BGCTL_TEST_ETCD" put /recipe/instance none >/dev/null
}
recipe_uninstall() {
  local color
  for color in blue green; do
    scripts/test-env exec systemctl stop "recipe_${color}@$R_BLUE.service" "recipe_${color}@$R_GREEN.service" 2>/dev/null || true
    rm -f "$BGCTL_TEST_UNIT_DIR/recipe_${color}@.service"
  done
  rm -f "$BGCTL_TEST_NGINX_SITES/recipe.conf"
  scripts/test-env exec systemctl daemon-reload
  scripts/test-env exec systemctl reload "$BGCTL_TEST_NGINX_UNIT" || true
}
recipe_deploy() { # IMAGE
  docker -H "$BGCTL_TEST_DOCKER_HOST" tag "$1" bgctl-demo:recipe
  NAME=recipe BLUE_PORT=$R_BLUE GREEN_PORT=$R_GREEN PREFIX=/recipe ETCDCTL_ENDPOINTS=$BGCTL_TEST_ETCD \
    SITE=$BGCTL_TEST_NGINX_SITES/recipe.conf TEMPLATE=$D/recipe/site.tmpl \
    SYSTEMCTL="scripts/test-env exec systemctl" NGINX_UNIT=$BGCTL_TEST_NGINX_UNIT \
    SLEEP=$RECIPE_SLEEP IMAGE=bgctl-demo:recipe DOCKER="docker -H $BGCTL_TEST_DOCKER_HOST" \
    scripts/recipe/deploy.sh >/dev/null 2>&1
}
bgctl_deploy() { # IMAGE
  "$BGCTL" --config "$CMP" switch --image "$1" >/dev/null 2>&1
}

# measure TOOL CASE IMAGE LISTEN: one deploy under the standard load; appends
# "tool case ms failed total serving" to $RESULTS.
measure() {
  local tool=$1 case=$2 image=$3 listen=$4 t0 t1
  load_start "http://127.0.0.1:$listen/" -c 8 -q 50
  t0=$(now_ms)
  "${tool}_deploy" "$image" || true
  t1=$(now_ms)
  load_stop
  echo "$tool $case $((t1 - t0)) $(load_failed) $(load_total) $(answers "$listen")" >> "$RESULTS"
}

log "recipe: the classic script against bgctl, $RECIPE_REPEATS repeats of 3 cases"
recipe_install
trap_add recipe_uninstall
recipe_deploy bgctl-demo:v1
CMP=$(service bench_cmp 18411 18412 18490)
RESULTS=$D/bench-recipe.txt
: > "$RESULTS"
release=(bgctl-demo:v2 bgctl-demo:v1)
for i in $(seq 1 "$RECIPE_REPEATS"); do
  good=${release[$((i % 2))]}
  for tool in recipe bgctl; do
    listen=$R_LISTEN; [ "$tool" = bgctl ] && listen=18490
    measure "$tool" good "$good" "$listen"
    measure "$tool" slow bgctl-demo:slow6 "$listen"
    measure "$tool" broken bgctl-demo:crash "$listen"
    # Back to a serving release for the next repeat (not measured).
    "${tool}_deploy" bgctl-demo:v1 || true
  done
done

echo "## 1. Against the recipe it replaces (sleep $RECIPE_SLEEP s after the start, as a fixed wait)"
printf '%-8s %-7s %-26s %-26s %-15s %s\n' case tool "deploy s (median / p95)" "failed requests (med / p95)" "of requests" "serving after"
for case in good slow broken; do
  for tool in recipe bgctl; do
    rows=$(awk -v t="$tool" -v c="$case" '$1 == t && $2 == c' "$RESULTS")
    secs=$(awk '{ printf "%.2f\n", $3 / 1000 }' <<< "$rows" | stats)
    failed=$(awk '{ print $4 }' <<< "$rows" | stats)
    total=$(awk '{ t += $5 } END { print t }' <<< "$rows")
    serving=$(awk '$6 == 200 { s++ } END { printf "%d of %d", s, NR }' <<< "$rows")
    printf '%-8s %-7s %-26s %-26s %-15s %s\n' "$case" "$tool" "$secs" "$failed" "$total" "$serving"
  done
done
good_recipe=$(awk '$1 == "recipe" && $2 == "good" { print $3 }' "$RESULTS" | median)
good_bgctl=$(awk '$1 == "bgctl" && $2 == "good" { print $3 }' "$RESULTS" | median)
echo "good release: bgctl is $(awk -v r="$good_recipe" -v b="$good_bgctl" 'BEGIN { printf "%.1f", r / b }')x faster than the recipe (medians)"
