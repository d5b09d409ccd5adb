#!/bin/bash
# strata's registry (`strata registry serve`) side by side with Debian's docker-registry
# (CNCF distribution 2.8), same ~100 MB image, both storages and every client's output on the same
# RAM-backed directory:
#   push   skopeo copy of the bench image (OCI layout) into each registry
#   pull   skopeo copy out of each registry into a fresh OCI layout (RUNS cold runs, medians)
#   N×pull CONCURRENT skopeo copies out of each registry at once: wall time, and the server's
#          peak RSS (VmHWM) and CPU over the whole run
# Prints a table and the ratios distribution/strata (above 1: strata is faster / smaller).
#
# Environment: RUNS (default 3), CONCURRENT (default 20), WORKDIR (default a new directory under
# /dev/shm), SKIP_BUILD=1 (use the release binaries already built), CARGO_TARGET_DIR.
# Needs: docker-registry, skopeo, python3, /usr/bin/time. No root needed.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-3}
CONCURRENT=${CONCURRENT:-20}
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
STRATA=$TARGET/release/strata
BENCH_IMAGE=$TARGET/release/bench-image
WORK=${WORKDIR:-$(mktemp -d /dev/shm/strata-registry-bench.XXXXXX)}
mkdir -p "$WORK"
PIDS=()

log() { printf '== %s\n' "$*" >&2; }
cleanup() {
  local rc=$?
  set +e
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for t in docker-registry skopeo python3 /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "registry.sh: $t is missing" >&2; exit 1; }
done
if [ -z "${SKIP_BUILD:-}" ]; then
  log "building strata and bench-image (release)"
  (cd "$REPO" && cargo build --release -p strata -p test-support --bins) >"$WORK/build.log" 2>&1 || {
    tail -20 "$WORK/build.log" >&2; exit 1; }
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
cpu_of() { sed 's/.*) //' "/proc/$1/stat" | awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($12+$13)/hz}'; }
hwm_of() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }   # KB
wait_up() { for _ in $(seq 1 200); do curl -sf "http://$1/v2/" >/dev/null && return 0; sleep 0.05; done; return 1; }

# ---------------------------------------------------------------- the two registries
DIST_PORT=$(free_port)
mkdir -p "$WORK/dist"
cat >"$WORK/dist.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $WORK/dist
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$DIST_PORT
EOF
docker-registry serve "$WORK/dist.yml" >"$WORK/dist.log" 2>&1 &
PIDS+=($!); DIST_PID=$!
"$STRATA" registry serve --addr 127.0.0.1:0 --root "$WORK/strata" >"$WORK/strata.log" 2>&1 &
PIDS+=($!); STRATA_PID=$!
for _ in $(seq 1 200); do grep -q listening "$WORK/strata.log" && break; sleep 0.05; done
STRATA_ADDR=$(grep -o '127.0.0.1:[0-9]*' "$WORK/strata.log" | head -1)
DIST_ADDR=127.0.0.1:$DIST_PORT
wait_up "$STRATA_ADDR" && wait_up "$DIST_ADDR" || { cat "$WORK"/*.log >&2; exit 1; }
declare -A ADDR=([strata]=$STRATA_ADDR [distribution]=$DIST_ADDR)
declare -A PID=([strata]=$STRATA_PID [distribution]=$DIST_PID)
log "strata registry on $STRATA_ADDR, distribution on $DIST_ADDR, storage in $WORK"

log "writing the bench image"
"$BENCH_IMAGE" "$WORK/oci" bench >/dev/null 2>"$WORK/bench-image.log" || { cat "$WORK/bench-image.log" >&2; exit 1; }
SIZE_MB=$(du -sm "$WORK/oci" | awk '{print $1}')

declare -A PUSH PULL PULL_CPU NWALL NRSS NCPU IDLE_RSS
for reg in strata distribution; do
  IDLE_RSS[$reg]=$(hwm_of "${PID[$reg]}")
  # ---- push
  /usr/bin/time -f '%e' -o "$WORK/t" skopeo --insecure-policy copy -q --dest-tls-verify=false \
    "oci:$WORK/oci:bench" "docker://${ADDR[$reg]}/bench/big:1" >/dev/null
  PUSH[$reg]=$(tail -1 "$WORK/t")
  # ---- cold pulls
  walls=() cpus=()
  for r in $(seq 1 "$RUNS"); do
    rm -rf "$WORK/out"
    c0=$(cpu_of "${PID[$reg]}")
    /usr/bin/time -f '%e' -o "$WORK/t" skopeo --insecure-policy copy -q --src-tls-verify=false \
      "docker://${ADDR[$reg]}/bench/big:1" "oci:$WORK/out:x" >/dev/null
    c1=$(cpu_of "${PID[$reg]}")
    walls+=("$(tail -1 "$WORK/t")")
    cpus+=("$(awk -v a="$c0" -v b="$c1" 'BEGIN {printf "%.2f", b-a}')")
  done
  rm -rf "$WORK/out"
  PULL[$reg]=$(median "${walls[@]}")
  PULL_CPU[$reg]=$(median "${cpus[@]}")
  # ---- concurrent pulls
  c0=$(cpu_of "${PID[$reg]}")
  start=$(date +%s.%N)
  pids=()
  for i in $(seq 1 "$CONCURRENT"); do
    skopeo --insecure-policy copy -q --src-tls-verify=false \
      "docker://${ADDR[$reg]}/bench/big:1" "oci:$WORK/par$i:x" >"$WORK/par$i.log" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || { echo "a concurrent pull from $reg failed" >&2; cat "$WORK"/par*.log >&2; exit 1; }; done
  end=$(date +%s.%N)
  c1=$(cpu_of "${PID[$reg]}")
  rm -rf "$WORK"/par*
  NWALL[$reg]=$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.2f", b-a}')
  NCPU[$reg]=$(awk -v a="$c0" -v b="$c1" 'BEGIN {printf "%.2f", b-a}')
  NRSS[$reg]=$(hwm_of "${PID[$reg]}")
  log "$reg done"
done

ratio() { awk -v d="$1" -v s="$2" 'BEGIN {printf (s > 0) ? "%.2f" : "-", d/s}'; }
echo
echo "image: $SIZE_MB MB (OCI layout); $RUNS cold runs (median); $CONCURRENT concurrent pulls; $(nproc) CPUs"
printf '%-34s %12s %14s %10s\n' "" "strata" "distribution" "dist/strata"
row() { printf '%-34s %12s %14s %10s\n' "$1" "$2" "$3" "$(ratio "$3" "$2")"; }
row "skopeo push into (s)" "${PUSH[strata]}" "${PUSH[distribution]}"
row "skopeo pull out of (s)" "${PULL[strata]}" "${PULL[distribution]}"
row "  server CPU per pull (s)" "${PULL_CPU[strata]}" "${PULL_CPU[distribution]}"
row "$CONCURRENT concurrent pulls, wall (s)" "${NWALL[strata]}" "${NWALL[distribution]}"
row "  server CPU, all pulls (s)" "${NCPU[strata]}" "${NCPU[distribution]}"
row "server RSS at start (MB)" "$((IDLE_RSS[strata] / 1024))" "$((IDLE_RSS[distribution] / 1024))"
row "server peak RSS, whole run (MB)" "$((NRSS[strata] / 1024))" "$((NRSS[distribution] / 1024))"
