#!/bin/bash
# Push of the ~100 MB bench image into Debian's docker-registry: `strata push` side by side with
# `skopeo copy` of the same OCI layout, in the same run, the registry's storage (and every store)
# on one RAM tmpfs. Prints medians of wall time, peak RSS and CPU, and the ratio skopeo/strata.
# See bench/README.md.
#
# Environment: RUNS (runs per tool, default 3), TMPFS (mount point, default
# /var/tmp/strata-bench-push-tmpfs; without root a plain directory under /var/tmp is used),
# TMPFS_SIZE (default 2G), SKIP_BUILD=1 (use the binaries already in the target dir),
# KEEP_LOGS=1, CARGO_TARGET_DIR.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-3}
TMPFS=${TMPFS:-/var/tmp/strata-bench-push-tmpfs}
TMPFS_SIZE=${TMPFS_SIZE:-2G}
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
STRATA=$TARGET/release/strata
BENCH_IMAGE=$TARGET/release/bench-image
REGISTRY_BIN=${REGISTRY_BIN:-/usr/bin/docker-registry}

for t in skopeo "$REGISTRY_BIN" /usr/bin/time curl; do
  command -v "$t" >/dev/null || { echo "push.sh: $t is missing" >&2; exit 1; }
done

WORK=$(mktemp -d /var/tmp/strata-bench-push.XXXXXX)
LOGS=$WORK/logs
mkdir -p "$LOGS"
MOUNTED=0 REG_PID= SRC_PID=

log() { printf '== %s\n' "$*" >&2; }

cleanup() {
  local rc=$?
  set +e
  [ -n "$REG_PID" ] && kill "$REG_PID" 2>/dev/null && wait "$REG_PID" 2>/dev/null
  [ -n "$SRC_PID" ] && kill "$SRC_PID" 2>/dev/null && wait "$SRC_PID" 2>/dev/null
  if [ "$MOUNTED" = 1 ]; then umount "$TMPFS" 2>/dev/null || umount -l "$TMPFS"; rmdir "$TMPFS" 2>/dev/null; fi
  if [ -n "${KEEP_LOGS:-}" ]; then echo "logs kept in $LOGS" >&2; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_registry NAME DIR PORT -> pid in $STARTED; plain HTTP on 127.0.0.1:PORT, storage in DIR
start_registry() {
  local name=$1 dir=$2 port=$3
  mkdir -p "$dir"
  cat > "$WORK/$name.yml" <<CFG
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
CFG
  "$REGISTRY_BIN" serve "$WORK/$name.yml" >>"$LOGS/$name.log" 2>&1 &
  STARTED=$!
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "push.sh: registry $name did not start; see $LOGS/$name.log" >&2
  return 1
}

median() {
  printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {if (NR==0) exit 1; if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'
}

# ---------------------------------------------------------------- build, stores, image
if [ -z "${SKIP_BUILD:-}" ]; then
  log "building strata and bench-image (release)"
  (cd "$REPO" && cargo build --release -p strata -p test-support --bins) >"$LOGS/build.log" 2>&1 || {
    tail -20 "$LOGS/build.log" >&2; echo "push.sh: cargo build failed" >&2; exit 1; }
fi
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$TMPFS"
  mount -t tmpfs -o size="$TMPFS_SIZE" tmpfs "$TMPFS"
  MOUNTED=1
  BASE=$TMPFS
else
  log "not root: no tmpfs, stores under $WORK (disk timings are noisier)"
  BASE=$WORK/data
  mkdir -p "$BASE"
fi

log "writing the bench image"
"$BENCH_IMAGE" "$BASE/oci" bench 2>"$LOGS/bench-image.log" >/dev/null || { cat "$LOGS/bench-image.log" >&2; exit 1; }
sed 's/^/   /' "$LOGS/bench-image.log" >&2

# strata needs the image in its store: pulled once from a source registry (not the target, so
# nothing can be mounted across repositories: every run uploads every byte).
SRC_PORT=$(free_port)
start_registry src "$BASE/src-registry" "$SRC_PORT"; SRC_PID=$STARTED
skopeo copy --quiet --insecure-policy --dest-tls-verify=false oci:"$BASE/oci":bench \
  docker://127.0.0.1:$SRC_PORT/bench/big:1
export STRATA_ROOT=$BASE/strata DOCKER_CONFIG=$WORK/docker-config
"$STRATA" pull -q 127.0.0.1:$SRC_PORT/bench/big:1 >/dev/null

declare -A WALLS RSSS CPUS
TOOLS=(strata strata-chunked skopeo)
# run TOOL N: a fresh target registry, then one timed push
run() {
  local tool=$1 n=$2 port dir cmd
  port=$(free_port)
  dir=$BASE/target-registry
  rm -rf "$dir"
  start_registry "target-$tool-$n" "$dir" "$port"; REG_PID=$STARTED
  local dest=127.0.0.1:$port/bench/big:1
  case $tool in
    strata|strata-chunked)
      "$STRATA" tag 127.0.0.1:$SRC_PORT/bench/big:1 "$dest"
      cmd=("$STRATA" push "$dest") ;;
    skopeo)
      cmd=(skopeo copy --quiet --insecure-policy --dest-tls-verify=false oci:"$BASE/oci":bench "docker://$dest") ;;
  esac
  local chunk=
  [ "$tool" = strata-chunked ] && chunk=$((16 << 20))
  if ! STRATA_PUSH_CHUNK_SIZE=$chunk /usr/bin/time -f '%e %M %U %S' -o "$LOGS/$tool-$n.time" \
      "${cmd[@]}" >"$LOGS/$tool-$n.log" 2>&1; then
    tail -5 "$LOGS/$tool-$n.log" >&2
    echo "push.sh: $tool run $n failed" >&2
    exit 1
  fi
  # The registry holds the image: the manifest answers by tag.
  curl -sfI -o /dev/null \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' \
    "http://127.0.0.1:$port/v2/bench/big/manifests/1" || { echo "push.sh: $tool left no manifest" >&2; exit 1; }
  [ "${tool%-chunked}" = strata ] && "$STRATA" rmi "$dest" >/dev/null
  kill "$REG_PID"; wait "$REG_PID" 2>/dev/null || true; REG_PID=
  read -r w r u s < <(tail -1 "$LOGS/$tool-$n.time")
  WALLS[$tool]="${WALLS[$tool]:-} $w"
  RSSS[$tool]="${RSSS[$tool]:-} $r"
  CPUS[$tool]="${CPUS[$tool]:-} $(awk -v u="$u" -v s="$s" 'BEGIN {printf "%.2f", u+s}')"
}

for n in $(seq 1 "$RUNS"); do
  for tool in "${TOOLS[@]}"; do
    log "run $n: $tool"
    run "$tool" "$n"
  done
done

# ---------------------------------------------------------------- report
MB=$(awk '/total compressed/ {print $3}' "$LOGS/bench-image.log")
echo
echo "Push of the bench image ($MB MB compressed, 4 layers) into a fresh docker-registry (${RUNS} runs each, median; every store on a tmpfs; $(nproc) CPUs)"
printf '%-16s %-34s %8s %12s %8s %9s\n' tool what "wall s" "peak RSS MB" "CPU s" "time ×"
declare -A WHAT=(
  [strata]="push from its store (monolithic)"
  [strata-chunked]="push, 16 MiB PATCH chunks"
  [skopeo]="copy oci: layout -> registry"
)
SW=$(median ${WALLS[strata]})
for tool in "${TOOLS[@]}"; do
  w=$(median ${WALLS[$tool]})
  r=$(median ${RSSS[$tool]})
  c=$(median ${CPUS[$tool]})
  printf '%-16s %-34s %8.2f %12.1f %8.2f %9.2f\n' "$tool" "${WHAT[$tool]}" "$w" "$(awk -v r="$r" 'BEGIN {print r/1024}')" "$c" "$(awk -v a="$w" -v b="$SW" 'BEGIN {print a/b}')"
done
echo "time × = tool wall / strata wall (above 1: strata is faster). Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "skopeo / strata = $(awk -v a="$(median ${WALLS[skopeo]})" -v b="$SW" 'BEGIN {printf "%.2fx", a/b}')"
