#!/bin/bash
# Soak: KILLS `kill -9`s at random points of pulls, pushes, commits and rmis running several at a
# time on ONE store, against strata's own registry on loopback; then `strata system check` must
# find the store healthy, and every image must pull again and run. Prints the number of
# operations started, kills delivered, and problems found (before and after --repair).
#
# Environment: KILLS (default 100), PARALLEL (operations at once, default 3), SEED (for $RANDOM),
# STRATA / SAMPLE_IMAGE / BENCH_IMAGE (binaries; default: target/release, built if missing),
# KEEP=1 keeps the work directory. Needs root (containers run through runc) and skopeo.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
KILLS=${KILLS:-100}
PARALLEL=${PARALLEL:-3}
RANDOM=${SEED:-$$}
STRATA=${STRATA:-$TARGET/release/strata}
SAMPLE_IMAGE=${SAMPLE_IMAGE:-$TARGET/release/sample-image}
BENCH_IMAGE=${BENCH_IMAGE:-$TARGET/release/bench-image}

log() { echo "soak: $*" >&2; }
die() { log "$*"; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (containers run through runc)"
command -v skopeo >/dev/null || die "skopeo is missing (scripts/deps.sh installs it)"
if [ ! -x "$STRATA" ] || [ ! -x "$SAMPLE_IMAGE" ] || [ ! -x "$BENCH_IMAGE" ]; then
  log "building strata, sample-image and bench-image (release)"
  (cd "$REPO" && cargo build --release -p strata -p test-support --bins) >&2
fi

WORK=$(mktemp -d /var/tmp/strata-soak.XXXXXX)
REG_PID=
cleanup() {
  [ -n "$REG_PID" ] && kill "$REG_PID" 2>/dev/null || true
  jobs -p | xargs -r kill -9 2>/dev/null || true
  # Containers of killed runs may still be running: stop them before the store goes.
  [ -d "$WORK/store" ] && "$STRATA" --root "$WORK/store" ps -aq 2>/dev/null |
    xargs -r "$STRATA" --root "$WORK/store" rm -f >/dev/null 2>&1 || true
  [ "${KEEP:-0}" = 1 ] && { log "kept $WORK"; return; }
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
REG=127.0.0.1:$PORT
"$STRATA" registry serve --addr "$REG" --root "$WORK/registry" >"$WORK/registry.log" 2>&1 &
REG_PID=$!
for _ in $(seq 100); do curl -fs "http://$REG/v2/" >/dev/null && break; sleep 0.1; done
curl -fs "http://$REG/v2/" >/dev/null || die "registry did not start: $(cat "$WORK/registry.log")"

log "publishing soak/busybox:1 and soak/big:1 (~100 MB, 4 layers) to $REG"
"$SAMPLE_IMAGE" "$WORK/sample" latest >/dev/null
"$BENCH_IMAGE" "$WORK/big" bench >/dev/null 2>&1
skopeo copy -q --insecure-policy --dest-tls-verify=false "oci:$WORK/sample:latest" "docker://$REG/soak/busybox:1"
skopeo copy -q --insecure-policy --dest-tls-verify=false "oci:$WORK/big:bench" "docker://$REG/soak/big:1"

export STRATA_ROOT=$WORK/store STRATA_CONFIG=$WORK/config.json DOCKER_CONFIG=$WORK/docker
S() { "$STRATA" "$@"; }
S pull -q "$REG/soak/busybox:1" >/dev/null

# One random operation, in the foreground of its own subshell (so kill -9 hits strata itself).
op() {
  local n=$1
  case $((RANDOM % 6)) in
    0|1) exec "$STRATA" pull -q "$REG/soak/big:1" ;;
    2) exec "$STRATA" pull -q "$REG/soak/busybox:1" ;;
    3) "$STRATA" tag "$REG/soak/busybox:1" "$REG/soak/pushed:$n" 2>/dev/null || exit 0
       exec "$STRATA" push -q "$REG/soak/pushed:$n" ;;
    4) "$STRATA" run --name "c$n" "$REG/soak/busybox:1" sh -c "echo $n > /f; sleep 0.$((RANDOM % 9))" >/dev/null 2>&1 || exit 0
       exec "$STRATA" commit "c$n" "soak/commit:$n" ;;
    5) local img
       img=$("$STRATA" images -q | shuf -n1 2>/dev/null || true)
       [ -n "$img" ] || exit 0
       exec "$STRATA" rmi -f "$img" ;;
  esac
}

started=0 kills=0
log "running until $KILLS kills ($PARALLEL operations at a time)"
while [ "$kills" -lt "$KILLS" ]; do
  pids=()
  for _ in $(seq "$PARALLEL"); do
    started=$((started + 1))
    op "$started" >/dev/null 2>>"$WORK/ops.log" &
    pids+=($!)
  done
  sleep "0.$((RANDOM % 10))$((RANDOM % 10))"
  victim=${pids[$((RANDOM % ${#pids[@]}))]}
  if kill -0 "$victim" 2>/dev/null; then
    kill -9 "$victim" 2>/dev/null && kills=$((kills + 1))
  fi
  wait "${pids[@]}" 2>/dev/null || true
done

S ps -aq | xargs -r "$STRATA" rm -f >/dev/null 2>&1 || true
log "checking the store"
set +e
S system check >"$WORK/check1.txt" 2>&1
check1=$?
problems=$(grep -c '^  ' "$WORK/check1.txt")
S system check --repair >"$WORK/repair.txt" 2>&1
S system check >"$WORK/check2.txt" 2>&1
check2=$?
set -e
sed 's/^/   /' "$WORK/check1.txt" >&2

log "every image pulls again and runs"
S pull -q "$REG/soak/big:1" >/dev/null
S pull -q "$REG/soak/busybox:1" >/dev/null
out=$(S run --rm "$REG/soak/busybox:1" sh -c 'echo alive')
[ "$out" = alive ] || die "the image does not run after the soak: $out"
S images --format '{{.Repository}}:{{.Tag}}' | grep -v '<none>' | while read -r ref; do
  S image inspect "$ref" >/dev/null || die "$ref does not inspect"
done

echo "operations started: $started"
echo "kills (kill -9 of a running operation): $kills"
echo "system check after the soak: exit $check1, $problems finding(s)"
echo "system check after --repair: exit $check2"
[ "$check2" = 0 ] || die "the store is not healthy after --repair: $(cat "$WORK/check2.txt")"
