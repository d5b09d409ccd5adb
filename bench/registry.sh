#!/bin/bash
# Strata's registry side by side with Debian's docker-registry (CNCF distribution 2.8), in the same
# run, both storing on the same RAM tmpfs, both on loopback:
#   1. push:  `skopeo copy oci:… docker://…` of the ~100 MB bench image into each (a fresh repo per run)
#   2. pull:  `skopeo copy docker://… oci:…` out of each (download + verify, the client's floor), and
#             `strata pull` out of each (download + unpack)
#   3. load:  20 concurrent `skopeo copy` out of each; wall time and the server's peak RSS in that phase
# Every phase also records the server's CPU seconds (utime+stime from /proc/<pid>/stat, before/after).
# Prints medians and the ratio docker-registry/strata (above 1: strata's registry is faster/smaller).
#
# Environment: RUNS (default 5), CONCURRENT (default 20), TMPFS (default /var/tmp/strata-bench-reg),
# TMPFS_SIZE (default 6G), SKIP_BUILD=1, CARGO_TARGET_DIR, KEEP_LOGS=1. Needs root (tmpfs mount).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-5}
CONCURRENT=${CONCURRENT:-20}
TMPFS=${TMPFS:-/var/tmp/strata-bench-reg}
TMPFS_SIZE=${TMPFS_SIZE:-6G}
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
STRATA=$TARGET/release/strata
BENCH_IMAGE=$TARGET/release/bench-image

[ "$(id -u)" = 0 ] || { echo "registry.sh: run as root (it mounts a tmpfs)" >&2; exit 1; }
for c in docker-registry skopeo curl python3 /usr/bin/time; do
  command -v "$c" >/dev/null || { echo "registry.sh: $c is missing" >&2; exit 1; }
done

WORK=$(mktemp -d /var/tmp/strata-bench-reg.XXXXXX)
LOGS=$WORK/logs
mkdir -p "$LOGS"
MOUNTED=0
PIDS=()

log() { printf '== %s\n' "$*" >&2; }

cleanup() {
  local rc=$?
  set +e
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  if [ "$MOUNTED" = 1 ]; then umount "$TMPFS" 2>/dev/null || umount -l "$TMPFS"; rmdir "$TMPFS" 2>/dev/null; fi
  if [ -n "${KEEP_LOGS:-}" ]; then echo "logs kept in $LOGS" >&2; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_v2() {
  local url=$1 pid=$2
  for _ in $(seq 1 100); do
    curl -sf "$url/v2/" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || { echo "registry.sh: server $pid died; logs in $LOGS" >&2; return 1; }
    sleep 0.1
  done
  echo "registry.sh: $url not answering" >&2; return 1
}
cpu_of() { awk '{print $14 + $15}' "/proc/$1/stat"; }          # clock ticks, utime + stime
ticks() { getconf CLK_TCK; }
rss_peak_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
reset_peak() { echo 5 > "/proc/$1/clear_refs"; }               # resets VmHWM to the current RSS
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) {print "nan"} else if (NR%2) {print a[(NR+1)/2]} else {printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}}'; }
# wall_of CMD... -> seconds (prints nothing else; stdout/stderr of CMD go to the log)
wall_of() {
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >>"$LOGS/cmd.log" 2>&1 || { echo "registry.sh: failed: $*" >&2; tail -5 "$LOGS/cmd.log" >&2; return 1; }
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
}

# ------------------------------------------------------------------ setup
if [ -z "${SKIP_BUILD:-}" ]; then
  log "building release binaries"
  (cd "$REPO" && cargo build --release -p strata -p test-support --bins) >&2
fi
[ -x "$STRATA" ] && [ -x "$BENCH_IMAGE" ] || { echo "registry.sh: no $STRATA or $BENCH_IMAGE" >&2; exit 1; }
command -v bc >/dev/null || { echo "registry.sh: bc is missing (apt-get install bc)" >&2; exit 1; }

mkdir -p "$TMPFS"
mount -t tmpfs -o size="$TMPFS_SIZE" tmpfs "$TMPFS"
MOUNTED=1

log "writing the bench image"
"$BENCH_IMAGE" "$TMPFS/layout" bench >/dev/null 2>"$LOGS/bench-image.log" || { cat "$LOGS/bench-image.log" >&2; exit 1; }
SRC="oci:$TMPFS/layout:bench"

# start_server KIND DIR -> sets PORT[KIND] and PID[KIND]: a server on a new free port, storing in DIR
declare -A PORT PID
start_server() {
  local kind=$1 dir=$2 port
  port=$(free_port)
  mkdir -p "$dir"
  if [ "$kind" = distribution ]; then
    cat > "$dir.yml" <<CFG
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: $dir
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
CFG
    setsid docker-registry serve "$dir.yml" >>"$LOGS/distribution.log" 2>&1 </dev/null &
  else
    setsid "$STRATA" registry serve --addr "127.0.0.1:$port" --root "$dir" >>"$LOGS/strata-registry.log" 2>&1 </dev/null &
  fi
  PID[$kind]=$!; PORT[$kind]=$port; PIDS+=("$!")
  wait_v2 "http://127.0.0.1:$port" "$!"
}
stop_server() { kill "${PID[$1]}" 2>/dev/null; wait "${PID[$1]}" 2>/dev/null || true; }

SERVERS=(distribution strata)
SK=(skopeo --insecure-policy)
TLS=(--dest-tls-verify=false)
STLS=(--src-tls-verify=false)

declare -A PUSH PULL SPULL CPU_PUSH CPU_PULL LOAD_WALL LOAD_RSS LOAD_CPU IDLE_RSS

# ------------------------------------------------------------------ 1. push (skopeo copy in)
# Every push goes to a fresh server (new port, empty storage): a registry that already holds the
# blobs, or skopeo's blob-info cache pointing at another repository of it, would turn the push into
# HEADs and mounts.
for s in "${SERVERS[@]}"; do : >"$WORK/push-$s" >"$WORK/cpu-push-$s"; done
for run in $(seq 1 "$RUNS"); do
  for s in "${SERVERS[@]}"; do
    start_server "$s" "$TMPFS/push-$s-$run"
    c0=$(cpu_of "${PID[$s]}")
    wall_of "${SK[@]}" copy -q "${TLS[@]}" "$SRC" "docker://127.0.0.1:${PORT[$s]}/bench/big:1" >>"$WORK/push-$s"
    echo "($(cpu_of "${PID[$s]}") - $c0) / $(ticks)" | bc -l >>"$WORK/cpu-push-$s"
    stop_server "$s"
    rm -rf "$TMPFS/push-$s-$run"
  done
done
# the servers every pull below reads from
for s in "${SERVERS[@]}"; do
  start_server "$s" "$TMPFS/$s"
  "${SK[@]}" copy -q "${TLS[@]}" "$SRC" "docker://127.0.0.1:${PORT[$s]}/bench/big:1" >>"$LOGS/cmd.log" 2>&1
  PUSH[$s]=$(median <"$WORK/push-$s"); CPU_PUSH[$s]=$(median <"$WORK/cpu-push-$s")
done

# ------------------------------------------------------------------ 2. pull (skopeo copy out, strata pull)
for s in "${SERVERS[@]}"; do : >"$WORK/pull-$s" >"$WORK/cpu-pull-$s" >"$WORK/spull-$s"; done
for run in $(seq 1 "$RUNS"); do
  for s in "${SERVERS[@]}"; do
    c0=$(cpu_of "${PID[$s]}")
    wall_of "${SK[@]}" copy -q "${STLS[@]}" "docker://127.0.0.1:${PORT[$s]}/bench/big:1" "oci:$TMPFS/out-$s-$run:x" >>"$WORK/pull-$s"
    echo "($(cpu_of "${PID[$s]}") - $c0) / $(ticks)" | bc -l >>"$WORK/cpu-pull-$s"
    rm -rf "$TMPFS/out-$s-$run"
    wall_of "$STRATA" --root "$TMPFS/sroot-$s-$run" pull -q "127.0.0.1:${PORT[$s]}/bench/big:1" >>"$WORK/spull-$s"
    rm -rf "$TMPFS/sroot-$s-$run"
  done
done
for s in "${SERVERS[@]}"; do
  PULL[$s]=$(median <"$WORK/pull-$s"); CPU_PULL[$s]=$(median <"$WORK/cpu-pull-$s"); SPULL[$s]=$(median <"$WORK/spull-$s")
done

# ------------------------------------------------------------------ 3. concurrent pulls
for s in "${SERVERS[@]}"; do
  IDLE_RSS[$s]=$(awk '/^VmRSS:/ {print $2}' "/proc/${PID[$s]}/status")
  reset_peak "${PID[$s]}"
  c0=$(cpu_of "${PID[$s]}")
  t0=$(date +%s.%N)
  jobs=()
  for i in $(seq 1 "$CONCURRENT"); do
    "${SK[@]}" copy -q "${STLS[@]}" "docker://127.0.0.1:${PORT[$s]}/bench/big:1" "oci:$TMPFS/conc-$s-$i:x" \
      >>"$LOGS/concurrent-$s.log" 2>&1 &
    jobs+=($!)
  done
  fail=0
  for j in "${jobs[@]}"; do wait "$j" || fail=1; done
  t1=$(date +%s.%N)
  [ "$fail" = 0 ] || { echo "registry.sh: a concurrent pull from $s failed; see $LOGS/concurrent-$s.log" >&2; exit 1; }
  LOAD_WALL[$s]=$(echo "$t1 - $t0" | bc -l)
  LOAD_RSS[$s]=$(rss_peak_kb "${PID[$s]}")
  LOAD_CPU[$s]=$(echo "($(cpu_of "${PID[$s]}") - $c0) / $(ticks)" | bc -l)
  rm -rf "$TMPFS"/conc-"$s"-*
done

# ------------------------------------------------------------------ report
ratio() { echo "$1 $2" | awk '{ if ($2 > 0) printf "%.2f", $1/$2; else print "n/a" }'; }
f2() { printf '%.2f' "$1"; }
mb() { echo "$1" | awk '{printf "%.1f", $1/1024}'; }
D=distribution S=strata
echo
echo "strata registry vs docker-registry (distribution 2.8), bench image $(du -sm "$TMPFS/layout" | cut -f1) MB, $RUNS runs, median; storage on tmpfs; 2 CPUs"
printf '%-44s %12s %12s %8s\n' "measure" "distribution" "strata" "ratio"
printf '%-44s %12s %12s %8s\n' "skopeo copy in (push), wall s" "$(f2 "${PUSH[$D]}")" "$(f2 "${PUSH[$S]}")" "$(ratio "${PUSH[$D]}" "${PUSH[$S]}")"
printf '%-44s %12s %12s %8s\n' "  server CPU s" "$(f2 "${CPU_PUSH[$D]}")" "$(f2 "${CPU_PUSH[$S]}")" "$(ratio "${CPU_PUSH[$D]}" "${CPU_PUSH[$S]}")"
printf '%-44s %12s %12s %8s\n' "skopeo copy out (pull), wall s" "$(f2 "${PULL[$D]}")" "$(f2 "${PULL[$S]}")" "$(ratio "${PULL[$D]}" "${PULL[$S]}")"
printf '%-44s %12s %12s %8s\n' "  server CPU s" "$(f2 "${CPU_PULL[$D]}")" "$(f2 "${CPU_PULL[$S]}")" "$(ratio "${CPU_PULL[$D]}" "${CPU_PULL[$S]}")"
printf '%-44s %12s %12s %8s\n' "strata pull (download+unpack), wall s" "$(f2 "${SPULL[$D]}")" "$(f2 "${SPULL[$S]}")" "$(ratio "${SPULL[$D]}" "${SPULL[$S]}")"
printf '%-44s %12s %12s %8s\n' "$CONCURRENT concurrent skopeo copy out, wall s" "$(f2 "${LOAD_WALL[$D]}")" "$(f2 "${LOAD_WALL[$S]}")" "$(ratio "${LOAD_WALL[$D]}" "${LOAD_WALL[$S]}")"
printf '%-44s %12s %12s %8s\n' "  server CPU s" "$(f2 "${LOAD_CPU[$D]}")" "$(f2 "${LOAD_CPU[$S]}")" "$(ratio "${LOAD_CPU[$D]}" "${LOAD_CPU[$S]}")"
printf '%-44s %12s %12s %8s\n' "  server peak RSS MB (idle before)" "$(mb "${LOAD_RSS[$D]}") ($(mb "${IDLE_RSS[$D]}"))" "$(mb "${LOAD_RSS[$S]}") ($(mb "${IDLE_RSS[$S]}"))" "$(ratio "${LOAD_RSS[$D]}" "${LOAD_RSS[$S]}")"
echo "ratio = distribution / strata: above 1 means strata's registry is faster / uses less."
