#!/bin/bash
# Cold pull of a ~100 MB, 4-layer image from a loopback registry: strata side by side with skopeo,
# podman, docker and containerd (ctr), in the same run, every store on the same RAM tmpfs.
# Prints medians of wall time, peak RSS and CPU, and the ratios peer/strata. See bench/README.md.
#
# Environment: RUNS (cold runs per tool, default 3), REPULL_RUNS (hyperfine runs of the re-pull,
# default 10), LAB_SCRIPTS (the peer lab scripts, default ../shared/lab beside the repository),
# TMPFS (mount point, default /var/tmp/strata-bench-tmpfs), TMPFS_SIZE (default 4G),
# TOOLS (space-separated subset of "strata skopeo podman docker ctr", default all),
# SKIP_BUILD=1 (use the binaries already in the target dir).
# Needs root (tmpfs mount, dockerd, containerd).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${LAB_SCRIPTS:-}" ]; then
  LAB_SCRIPTS=$(cd "$(dirname "$0")/../../shared/lab" 2>/dev/null && pwd) || {
    echo "pull.sh: the lab scripts are not at $(dirname "$0")/../../shared/lab; set LAB_SCRIPTS" >&2
    exit 1
  }
fi
RUNS=${RUNS:-3}
REPULL_RUNS=${REPULL_RUNS:-10}
TMPFS=${TMPFS:-/var/tmp/strata-bench-tmpfs}
TMPFS_SIZE=${TMPFS_SIZE:-4G}
TOOLS=${TOOLS:-strata skopeo podman docker ctr}
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
STRATA=$TARGET/release/strata
BENCH_IMAGE=$TARGET/release/bench-image

[ "$(id -u)" = 0 ] || { echo "pull.sh: run as root (it mounts a tmpfs and starts dockerd/containerd)" >&2; exit 1; }
[ -f "$LAB_SCRIPTS/common.sh" ] || { echo "pull.sh: no common.sh in LAB_SCRIPTS=$LAB_SCRIPTS" >&2; exit 1; }
command -v /usr/bin/time >/dev/null || { echo "pull.sh: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }

# Private daemon instances whose stores live on the tmpfs; common.sh derives sockets from these.
export DOCKER_INSTANCE=strata-bench-docker DOCKER_DATA_ROOT=$TMPFS/docker
export CTRD_INSTANCE=strata-bench-ctrd CTRD_ROOT=$TMPFS/containerd
# shellcheck source=/dev/null
. "$LAB_SCRIPTS/common.sh"     # LAB, REG, DOCKER, DOCKER_HOST_SOCK, CTRD_SOCK, pid_of, registries.conf
IMAGE=$REG/bench/big:1
DOCKER_CLI="$DOCKER -H $DOCKER_HOST_SOCK"
CTR_CLI="ctr --address $CTRD_SOCK -n bench"
PODMAN_OPTS=(--cgroup-manager cgroupfs --events-backend file --storage-driver overlay)

WORK=$(mktemp -d /var/tmp/strata-bench.XXXXXX)
LOGS=$WORK/logs
mkdir -p "$LOGS"
STARTED_REGISTRY=0 STARTED_DOCKERD=0 STARTED_CTRD=0 MOUNTED=0

log() { printf '== %s\n' "$*" >&2; }

# Unmounts every mount below $1 (deepest first); podman/docker leave none after a pull, but be sure.
unmount_under() {
  findmnt -rn -o TARGET | awk -v d="$1/" 'index($0, d) == 1' | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" || true
  done
}

cleanup() {
  local rc=$?
  set +e
  if [ "$STARTED_DOCKERD" = 1 ]; then "$LAB_SCRIPTS/dockerd-stop.sh" >/dev/null; fi
  if [ "$STARTED_CTRD" = 1 ]; then "$LAB_SCRIPTS/containerd-stop.sh" >/dev/null; fi
  if [ "$STARTED_REGISTRY" = 1 ]; then "$LAB_SCRIPTS/registry-stop.sh" >/dev/null; fi
  if [ "$MOUNTED" = 1 ]; then
    unmount_under "$TMPFS"
    umount "$TMPFS" 2>/dev/null || umount -l "$TMPFS"
    rmdir "$TMPFS" 2>/dev/null
  fi
  if [ -n "${KEEP_LOGS:-}" ]; then echo "logs kept in $LOGS" >&2; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- results
declare -A WALLS RSSS CPUS STORE UNAVAIL WHAT REPULL
WHAT[strata]="pull + unpack"
WHAT[skopeo]="download only"
WHAT[podman]="pull + unpack"
WHAT[docker]="pull + unpack (daemon)"
WHAT[ctr]="pull + unpack (daemon)"
ALL_TOOLS=(strata skopeo podman docker ctr)
enabled() { [[ " $TOOLS " == *" $1 "* ]] && [ -z "${UNAVAIL[$1]:-}" ]; }
unavailable() { UNAVAIL[$1]=$2; log "$1 unavailable: $2"; }

# median of the numbers given as arguments
median() {
  printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {if (NR==0) exit 1; if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'
}

# CPU seconds (user+system, including reaped children) of a process and its live descendants.
tree_cpu() {
  local root=$1 hz pids
  hz=$(getconf CLK_TCK)
  pids=$(ps -e -o pid=,ppid= | awk -v r="$root" '{p[$1]=$2} END {for (x in p) {y=x; while (y!="" && y!=0) {if (y==r) {print x; break} y=p[y]}}}')
  for p in $pids; do
    # fields after the ")" of comm: state is 3; utime 14, stime 15, cutime 16, cstime 17
    sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12+$13+$14+$15}'
  done | awk -v hz="$hz" '{s+=$1} END {printf "%.2f", s/hz}'
}

# timed TOOL RUN CMD...: runs CMD under /usr/bin/time, appends wall s, peak RSS KB and client CPU s
# to the tool's lists; output goes to the run's log. Returns CMD's status.
timed() {
  local tool=$1 run=$2; shift 2
  local tf=$LOGS/$tool-$run.time
  if ! /usr/bin/time -f '%e %M %U %S' -o "$tf" "$@" >"$LOGS/$tool-$run.log" 2>&1; then
    tail -5 "$LOGS/$tool-$run.log" >&2
    return 1
  fi
  read -r T_WALL T_RSS T_USR T_SYS < <(tail -1 "$tf")
  T_CPU=$(awk -v u="$T_USR" -v s="$T_SYS" 'BEGIN {printf "%.2f", u+s}')
}
record() { # TOOL WALL RSS_KB|- CPU STORE_DIR
  WALLS[$1]="${WALLS[$1]:-} $2"
  RSSS[$1]="${RSSS[$1]:-} $3"
  CPUS[$1]="${CPUS[$1]:-} $4"
  STORE[$1]=$(du -sm "$5" 2>/dev/null | awk '{print $1}')
}

# ---------------------------------------------------------------- build, registry, image
if [ -z "${SKIP_BUILD:-}" ]; then
  log "building strata and bench-image (release)"
  (cd "$REPO" && cargo build --release -p strata -p test-support --bins) >"$LOGS/build.log" 2>&1 || {
    tail -20 "$LOGS/build.log" >&2; echo "pull.sh: cargo build failed" >&2; exit 1; }
fi
[ -x "$BENCH_IMAGE" ] || { echo "pull.sh: $BENCH_IMAGE missing" >&2; exit 1; }
[ -x "$STRATA" ] || unavailable strata "$STRATA not built"

if [ -z "$(pid_of registry)" ]; then
  if curl -sf "http://$REG/v2/" >/dev/null 2>&1; then
    log "a registry not started by the lab answers on $REG; using it"
  else
    "$LAB_SCRIPTS/registry-start.sh" >/dev/null
    STARTED_REGISTRY=1
  fi
fi
log "registry on $REG"

log "writing the bench image"
"$BENCH_IMAGE" "$WORK/oci" bench 2>"$LOGS/bench-image.log" >/dev/null || { cat "$LOGS/bench-image.log" >&2; exit 1; }
sed 's/^/   /' "$LOGS/bench-image.log" >&2
skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$WORK/oci:bench" "docker://$IMAGE" >"$LOGS/push.log" 2>&1 || {
  cat "$LOGS/push.log" >&2; echo "pull.sh: push with skopeo failed" >&2; exit 1; }
rm -rf "$WORK/oci"
log "pushed $IMAGE"

# ---------------------------------------------------------------- tmpfs and daemons
mkdir -p "$TMPFS"
if mountpoint -q "$TMPFS"; then
  echo "pull.sh: $TMPFS is already a mount point (another bench run?); unmount it first" >&2
  exit 1
fi
mount -t tmpfs -o "size=$TMPFS_SIZE" tmpfs "$TMPFS"
MOUNTED=1
log "tmpfs $TMPFS ($TMPFS_SIZE) holds every store"

if enabled docker; then
  if ! command -v dockerd >/dev/null || [ ! -x "$DOCKER" ]; then
    unavailable docker "dockerd or $DOCKER not installed"
  elif [ -n "$(pid_of "$DOCKERD_PIDNAME")" ]; then
    unavailable docker "an instance $DOCKER_INSTANCE is already running (stale bench?)"
  elif "$LAB_SCRIPTS/dockerd-start.sh" >"$LOGS/dockerd-start.log" 2>&1; then
    STARTED_DOCKERD=1
  else
    unavailable docker "dockerd did not start: $(tail -1 "$LOGS/dockerd-start.log")"
  fi
fi
if enabled ctr; then
  if ! command -v containerd >/dev/null || ! command -v ctr >/dev/null; then
    unavailable ctr "containerd or ctr not installed"
  elif [ -n "$(pid_of "$CTRD_PIDNAME")" ]; then
    unavailable ctr "an instance $CTRD_INSTANCE is already running (stale bench?)"
  elif "$LAB_SCRIPTS/containerd-start.sh" >"$LOGS/containerd-start.log" 2>&1; then
    STARTED_CTRD=1
  else
    unavailable ctr "containerd did not start: $(tail -1 "$LOGS/containerd-start.log")"
  fi
fi
command -v skopeo >/dev/null || unavailable skopeo "not installed"
command -v podman >/dev/null || unavailable podman "not installed"

# ---------------------------------------------------------------- one cold pull per tool
cold_strata() {
  local root=$TMPFS/strata-$1
  timed strata "$1" "$STRATA" --root "$root" pull "$IMAGE" || return 1
  record strata "$T_WALL" "$T_RSS" "$T_CPU" "$root"
  rm -rf "$root"
}
cold_skopeo() {
  local dir=$TMPFS/skopeo-$1
  timed skopeo "$1" skopeo --insecure-policy copy -q --src-tls-verify=false "docker://$IMAGE" "oci:$dir:x" || return 1
  record skopeo "$T_WALL" "$T_RSS" "$T_CPU" "$dir"
  rm -rf "$dir"
}
cold_podman() {
  local p=$TMPFS/podman-$1
  mkdir -p "$p/tmp"
  timed podman "$1" podman --root "$p/root" --runroot "$p/run" --tmpdir "$p/tmp" "${PODMAN_OPTS[@]}" \
    pull -q --tls-verify=false "$IMAGE" || return 1
  record podman "$T_WALL" "$T_RSS" "$T_CPU" "$p"
  unmount_under "$p"
  rm -rf "$p"
}
cold_docker() {
  local pid before after
  pid=$(pid_of "$DOCKERD_PIDNAME")
  [ -n "$pid" ] || { echo "dockerd is gone" >&2; return 1; }
  before=$(tree_cpu "$pid")
  timed docker "$1" $DOCKER_CLI pull -q "$IMAGE" || return 1
  after=$(tree_cpu "$pid")
  record docker "$T_WALL" - "$(awk -v a="$after" -v b="$before" -v c="$T_CPU" 'BEGIN {printf "%.2f", a-b+c}')" "$DOCKER_DATA_ROOT"
  # cold again: drop the image and every layer it brought
  $DOCKER_CLI rmi -f "$IMAGE" >>"$LOGS/docker-clean.log" 2>&1 || true
  $DOCKER_CLI image prune -a -f >>"$LOGS/docker-clean.log" 2>&1 || true
  $DOCKER_CLI builder prune -a -f >>"$LOGS/docker-clean.log" 2>&1 || true
  if [ -n "$($DOCKER_CLI images -q)" ]; then echo "docker still holds images; not cold" >&2; return 1; fi
}
cold_ctr() {
  local pid before after
  pid=$(pid_of "$CTRD_PIDNAME")
  [ -n "$pid" ] || { echo "containerd is gone" >&2; return 1; }
  before=$(tree_cpu "$pid")
  timed ctr "$1" $CTR_CLI images pull --plain-http "$IMAGE" || return 1
  after=$(tree_cpu "$pid")
  record ctr "$T_WALL" - "$(awk -v a="$after" -v b="$before" -v c="$T_CPU" 'BEGIN {printf "%.2f", a-b+c}')" "$CTRD_ROOT"
  # cold again: the image, then a synchronous GC of its content and snapshots
  $CTR_CLI images rm --sync "$IMAGE" >>"$LOGS/ctr-clean.log" 2>&1 || true
  if [ -n "$($CTR_CLI content ls -q)" ] || [ "$($CTR_CLI snapshots ls | wc -l)" -gt 1 ]; then
    echo "containerd still holds content or snapshots; not cold" >&2; return 1
  fi
}

log "$RUNS cold runs, tools interleaved within each run"
for run in $(seq 1 "$RUNS"); do
  for tool in "${ALL_TOOLS[@]}"; do
    enabled "$tool" || continue
    if "cold_$tool" "$run" 2>>"$LOGS/errors.log"; then
      log "run $run: $tool ${T_WALL}s"
    else
      unavailable "$tool" "run $run failed: $(tail -1 "$LOGS/errors.log" 2>/dev/null || echo '?') (log: $tool-$run.log)"
    fi
  done
done

# ---------------------------------------------------------------- re-pull of a present image
# hyperfine: median wall ms of pulling an image already in the store (manifest check, nothing new).
repull() { # TOOL CMD (one string for hyperfine)
  local json=$LOGS/repull-$1.json
  if hyperfine -N --warmup 2 --runs "$REPULL_RUNS" --export-json "$json" "$2" >"$LOGS/repull-$1.log" 2>&1; then
    REPULL[$1]=$(jq -r '.results[0].median * 1000' "$json" | awk '{printf "%.1f", $1}')
  else
    REPULL[$1]="failed: $(tail -1 "$LOGS/repull-$1.log")"
  fi
}
if command -v hyperfine >/dev/null && command -v jq >/dev/null; then
  log "re-pull of a present image (hyperfine, $REPULL_RUNS runs)"
  if enabled strata && "$STRATA" --root "$TMPFS/strata-warm" pull "$IMAGE" >"$LOGS/strata-warm.log" 2>&1; then
    repull strata "$STRATA --root $TMPFS/strata-warm pull $IMAGE"
  fi
  PW=$TMPFS/podman-warm
  mkdir -p "$PW/tmp"
  PODMAN_WARM="podman --root $PW/root --runroot $PW/run --tmpdir $PW/tmp ${PODMAN_OPTS[*]}"
  if enabled podman && $PODMAN_WARM pull -q --tls-verify=false "$IMAGE" >"$LOGS/podman-warm.log" 2>&1; then
    repull podman "$PODMAN_WARM pull -q --tls-verify=false $IMAGE"
  fi
  if enabled docker && $DOCKER_CLI pull -q "$IMAGE" >"$LOGS/docker-warm.log" 2>&1; then
    repull docker "$DOCKER_CLI pull -q $IMAGE"
  fi
  if enabled ctr && $CTR_CLI images pull --plain-http "$IMAGE" >"$LOGS/ctr-warm.log" 2>&1; then
    repull ctr "$CTR_CLI images pull --plain-http $IMAGE"
  fi
else
  log "hyperfine or jq missing: no re-pull figures"
fi

# ---------------------------------------------------------------- report
med() { [ -n "${1// /}" ] && median $1; }
S_WALL=$(med "${WALLS[strata]:-}" || true)
S_RSS=$(med "${RSSS[strata]:-}" || true)
echo
echo "Cold pull of $IMAGE ($RUNS runs each, median; every store on a tmpfs; $(nproc) CPUs)"
printf '%-8s %-24s %10s %12s %9s %9s %10s %10s\n' tool what "wall s" "peak RSS MB" "CPU s" "store MB" "time ×" "RSS ×"
for tool in "${ALL_TOOLS[@]}"; do
  [[ " $TOOLS " == *" $tool "* ]] || continue
  if [ -n "${UNAVAIL[$tool]:-}" ] && [ -z "${WALLS[$tool]:-}" ]; then
    printf '%-8s unavailable: %s\n' "$tool" "${UNAVAIL[$tool]}"
    continue
  fi
  w=$(med "${WALLS[$tool]}"); c=$(med "${CPUS[$tool]}")
  if [[ "${RSSS[$tool]}" == *-* ]]; then rss="n/a (daemon)"; rmb=""; else
    rss=$(awk -v k="$(med "${RSSS[$tool]}")" 'BEGIN {printf "%.1f", k/1024}'); rmb=$rss; fi
  tr="n/a"; rr="n/a"
  if [ -n "$S_WALL" ]; then tr=$(awk -v a="$w" -v b="$S_WALL" 'BEGIN {printf "%.2f", a/b}'); fi
  if [ -n "$S_RSS" ] && [ -n "$rmb" ]; then rr=$(awk -v a="$rmb" -v b="$S_RSS" 'BEGIN {printf "%.2f", a*1024/b}'); fi
  printf '%-8s %-24s %10s %12s %9s %9s %10s %10s\n' "$tool" "${WHAT[$tool]}" "$w" "$rss" "$c" "${STORE[$tool]:-?}" "$tr" "$rr"
  if [ -n "${UNAVAIL[$tool]:-}" ]; then printf '         (incomplete: %s)\n' "${UNAVAIL[$tool]}"; fi
done
echo "time × and RSS × are peer/strata (above 1: strata is faster / smaller). CPU s = user+system; for docker"
echo "and ctr it is the daemon's process tree plus the client. store MB = size of the tool's store after one pull."

best=""; best_tool=""
for tool in podman docker ctr; do
  [ -n "${WALLS[$tool]:-}" ] || continue
  w=$(med "${WALLS[$tool]}")
  if [ -z "$best" ] || awk -v a="$w" -v b="$best" 'BEGIN {exit !(a<b)}'; then best=$w; best_tool=$tool; fi
done
echo
if [ -n "$best" ] && [ -n "$S_WALL" ]; then
  printf 'fastest unpacking peer (docker/podman/ctr) / strata = %s / %s s = %.2fx\n' \
    "$best_tool" "$best" "$(awk -v a="$best" -v b="$S_WALL" 'BEGIN {print a/b}')"
else
  echo "fastest unpacking peer (docker/podman/ctr) / strata = n/a (strata or every unpacking peer unavailable)"
fi

if [ "${#REPULL[@]}" -gt 0 ]; then
  echo
  echo "Re-pull of the present image (hyperfine, $REPULL_RUNS runs, median ms)"
  for tool in strata podman docker ctr; do
    [ -n "${REPULL[$tool]:-}" ] && printf '%-8s %s\n' "$tool" "${REPULL[$tool]}"
  done
fi

if [ -n "$S_WALL" ]; then
  echo
  echo "Targets (issue 2):"
  if [ -n "$best" ]; then
    awk -v a="$best" -v b="$S_WALL" 'BEGIN {r=a/b; printf "  >= 3x faster than the fastest unpacking peer: %.2fx  %s\n", r, (r>=3?"PASS":"FAIL")}'
  fi
  awk -v k="$S_RSS" 'BEGIN {m=k/1024; printf "  peak RSS < 64 MB: %.1f MB  %s\n", m, (m<64?"PASS":"FAIL")}'
  case "${REPULL[strata]:-}" in
    ''|failed*) echo "  re-pull < 100 ms: n/a ${REPULL[strata]:-}" ;;
    *) awk -v m="${REPULL[strata]}" 'BEGIN {printf "  re-pull < 100 ms: %s ms  %s\n", m, (m<100?"PASS":"FAIL")}' ;;
  esac
fi
