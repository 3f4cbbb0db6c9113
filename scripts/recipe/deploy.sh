#!/bin/bash
# The classic recipe's deploy script (the article in ../shared/seed/:
# deploy_bdd_assistant.sh), ported to this environment for scripts/bench.
# Its steps, as the article describes them: start the other color's
# template unit, wait a fixed time instead of a health check, write the new
# instance and port to etcd, render the nginx site from etcd the way
# `confd -onetime` does and reload nginx, then stop the old color. No lock,
# no health check, no rollback: those are what bgctl adds.
#
# The environment gives what the article hard-codes:
#   NAME (units NAME_blue@PORT, NAME_green@PORT), BLUE_PORT, GREEN_PORT,
#   PREFIX (etcd), ETCDCTL_ENDPOINTS, SITE and TEMPLATE (the confd template,
#   with {{port}}), SYSTEMCTL (a systemctl command line), NGINX_UNIT,
#   SLEEP (the fixed wait, in seconds), IMAGE and DOCKER (for the pull).
set -euo pipefail
export ETCDCTL_API=3   # etcdctl reads ETCDCTL_ENDPOINTS itself

CURRENT=$(etcdctl get --print-value-only "$PREFIX/instance")
if [ "$CURRENT" = "blue" ]; then
  NEXT=green; NEXT_PORT=$GREEN_PORT; CURRENT_PORT=$BLUE_PORT
else
  NEXT=blue; NEXT_PORT=$BLUE_PORT; CURRENT_PORT=$GREEN_PORT
fi

echo "Pulling the new release"
$DOCKER pull "$IMAGE" >/dev/null 2>&1 || true   # no registry here: the tag is already local

echo "Starting the $NEXT release"
$SYSTEMCTL start "${NAME}_${NEXT}@${NEXT_PORT}.service"
sleep "$SLEEP"

etcdctl put "$PREFIX/port" "$NEXT_PORT" >/dev/null
etcdctl put "$PREFIX/instance" "$NEXT" >/dev/null

echo "Changing nginx"
# confd -onetime: the template's keys from etcd, the file replaced, then
# its reload_cmd.
port=$(etcdctl get --print-value-only "$PREFIX/port")
sed "s/{{port}}/$port/" "$TEMPLATE" > "$SITE.tmp" && mv "$SITE.tmp" "$SITE"
$SYSTEMCTL reload "$NGINX_UNIT"

if [ "$CURRENT" = "blue" ] || [ "$CURRENT" = "green" ]; then
  echo "Stopping the $CURRENT release"
  $SYSTEMCTL stop "${NAME}_${CURRENT}@${CURRENT_PORT}.service"
fi
