#!/bin/bash
# Listing and inspecting a store of 1,000 images: strata side by side with docker, every store on the
# same RAM tmpfs. Pushes COUNT small images to the loopback registry, pulls all of them into a fresh
# strata root and into a private dockerd, then times `images` and `image inspect` with hyperfine and
# checks that `strata images` costs the metadata query, not the files on disk. See bench/README.md.
#
# Environment: COUNT (images, default 1000), SMALL_COUNT (images in the comparison store, default 10),
# RUNS (hyperfine runs, default 30), WARMUP (default 3), PUSH_JOBS (parallel pushes, default 8),
# LAB_SCRIPTS (the peer lab scripts, default ../shared/lab beside the repository),
# TMPFS (mount point, default /var/tmp/strata-bench-images-tmpfs), TMPFS_SIZE (default 2G),
# DOCKER_CLI_BIN (default /usr/local/bin/docker, the docker 28 CLI), SKIP_BUILD=1 (use the binaries
# already in the target dir), KEEP_LOGS=1 (keep hyperfine's output and every log).
# Needs root (tmpfs mount, dockerd).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${LAB_SCRIPTS:-}" ]; then
  LAB_SCRIPTS=$(cd "$(dirname "$0")/../../shared/lab" 2>/dev/null && pwd) || {
    echo "images.sh: the lab scripts are not at $(dirname "$0")/../../shared/lab; set LAB_SCRIPTS" >&2
    exit 1
  }
fi
COUNT=${COUNT:-1000}
SMALL_COUNT=${SMALL_COUNT:-10}
RUNS=${RUNS:-30}
WARMUP=${WARMUP:-3}
PUSH_JOBS=${PUSH_JOBS:-8}
TMPFS=${TMPFS:-/var/tmp/strata-bench-images-tmpfs}
TMPFS_SIZE=${TMPFS_SIZE:-2G}
DOCKER_CLI_BIN=${DOCKER_CLI_BIN:-/usr/local/bin/docker}
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
STRATA=$TARGET/release/strata
MANY_IMAGES=$TARGET/release/many-images

[ "$(id -u)" = 0 ] || { echo "images.sh: run as root (it mounts a tmpfs and starts dockerd)" >&2; exit 1; }
[ -f "$LAB_SCRIPTS/common.sh" ] || { echo "images.sh: no common.sh in LAB_SCRIPTS=$LAB_SCRIPTS" >&2; exit 1; }
for tool in hyperfine jq curl strace; do
  command -v "$tool" >/dev/null || { echo "images.sh: $tool is missing" >&2; exit 1; }
done
[ "$SMALL_COUNT" -ge 1 ] && [ "$SMALL_COUNT" -le "$COUNT" ] || {
  echo "images.sh: SMALL_COUNT must be between 1 and COUNT" >&2; exit 1; }

# A private dockerd whose store lives on the tmpfs; common.sh derives its socket from these.
export DOCKER_INSTANCE=strata-bench-images DOCKER_DATA_ROOT=$TMPFS/docker
# shellcheck source=/dev/null
. "$LAB_SCRIPTS/common.sh"     # LAB, REG, DOCKER, DOCKER_HOST_SOCK, pid_of
# The default repository keeps the name the README gives; another COUNT gets its own repository, so
# `pull -a` never sees tags left over from a run with a different COUNT.
if [ "$COUNT" = 1000 ]; then REPOSITORY=$REG/benchimages/img; else REPOSITORY=$REG/benchimages/img$COUNT; fi
PICK=$REPOSITORY:$(( (COUNT + 1) / 2 ))   # the image inspected
DOCKER_CLI="$DOCKER_CLI_BIN -H $DOCKER_HOST_SOCK"
ROOT=$TMPFS/strata            # COUNT images
SMALL_ROOT=$TMPFS/strata-small  # SMALL_COUNT images

WORK=$(mktemp -d /var/tmp/strata-bench-images.XXXXXX)
LOGS=$WORK/logs
mkdir -p "$LOGS"
STARTED_REGISTRY=0 STARTED_DOCKERD=0 MOUNTED=0

log() { printf '== %s\n' "$*" >&2; }
die() { echo "images.sh: $*" >&2; exit 1; }

# Unmounts every mount below $1 (deepest first); dockerd leaves none after pulls, but be sure.
unmount_under() {
  findmnt -rn -o TARGET | awk -v d="$1/" 'index($0, d) == 1' | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" || true
  done
}

cleanup() {
  local rc=$?
  set +e
  if [ "$STARTED_DOCKERD" = 1 ]; then "$LAB_SCRIPTS/dockerd-stop.sh" >/dev/null; fi
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

# ---------------------------------------------------------------- build, registry, images
if [ -z "${SKIP_BUILD:-}" ]; then
  log "building strata and many-images (release)"
  (cd "$REPO" && cargo build --release -p strata -p test-support --bins) >"$LOGS/build.log" 2>&1 || {
    tail -20 "$LOGS/build.log" >&2; die "cargo build failed"; }
fi
[ -x "$STRATA" ] || die "$STRATA missing"
[ -x "$MANY_IMAGES" ] || die "$MANY_IMAGES missing"

if [ -z "$(pid_of registry)" ]; then
  if curl -sf "http://$REG/v2/" >/dev/null 2>&1; then
    log "a registry not started by the lab answers on $REG; using it"
  else
    "$LAB_SCRIPTS/registry-start.sh" >/dev/null
    STARTED_REGISTRY=1
  fi
fi
log "registry on $REG"

log "writing $COUNT images (many-images)"
LAST_DIGEST=$("$MANY_IMAGES" "$WORK/oci" "$COUNT")
# Push unless the registry already holds exactly these images (same last manifest, COUNT tags).
repo_path=${REPOSITORY#"$REG"/}
have_digest=$(curl -sfI -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
  "http://$REG/v2/$repo_path/manifests/$COUNT" | tr -d '\r' | awk -F': ' 'tolower($1)=="docker-content-digest" {print $2}' || true)
have_tags=$(curl -sf "http://$REG/v2/$repo_path/tags/list?n=100000" | jq '.tags | length' 2>/dev/null || echo 0)
if [ "$have_digest" = "$LAST_DIGEST" ] && [ "$have_tags" = "$COUNT" ]; then
  log "$REPOSITORY already holds the $COUNT images; not pushing again"
else
  start=$(date +%s.%N)
  pushed=$("$MANY_IMAGES" --push "$WORK/oci" "$REPOSITORY" "$PUSH_JOBS" 2>"$LOGS/push.log") || {
    cat "$LOGS/push.log" >&2; die "push failed"; }
  log "pushed $pushed tags to $REPOSITORY in $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.1f", e-s}') s ($PUSH_JOBS at a time)"
  have_tags=$(curl -sf "http://$REG/v2/$repo_path/tags/list?n=100000" | jq '.tags | length')
  [ "$have_tags" = "$COUNT" ] || die "$REPOSITORY has $have_tags tags, expected $COUNT"
fi
rm -rf "$WORK/oci"

# ---------------------------------------------------------------- tmpfs, dockerd
mkdir -p "$TMPFS"
mountpoint -q "$TMPFS" && die "$TMPFS is already a mount point (another bench run?); unmount it first"
mount -t tmpfs -o "size=$TMPFS_SIZE" tmpfs "$TMPFS"
MOUNTED=1
log "tmpfs $TMPFS ($TMPFS_SIZE) holds every store"

DOCKER_OK=1
if ! command -v dockerd >/dev/null || [ ! -x "$DOCKER_CLI_BIN" ]; then
  log "docker unavailable: dockerd or $DOCKER_CLI_BIN not installed"; DOCKER_OK=0
elif [ -n "$(pid_of "$DOCKERD_PIDNAME")" ]; then
  log "docker unavailable: an instance $DOCKER_INSTANCE is already running (stale bench?)"; DOCKER_OK=0
elif "$LAB_SCRIPTS/dockerd-start.sh" >"$LOGS/dockerd-start.log" 2>&1; then
  STARTED_DOCKERD=1
else
  log "docker unavailable: dockerd did not start: $(tail -1 "$LOGS/dockerd-start.log")"; DOCKER_OK=0
fi

# ---------------------------------------------------------------- pulls (not the measurement)
secs_since() { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN {printf "%.1f", e-s}'; }

log "strata pull -a $REPOSITORY"
start=$(date +%s.%N)
"$STRATA" --root "$ROOT" pull -q -a "$REPOSITORY" >"$LOGS/strata-pull.log" 2>&1 || {
  tail -5 "$LOGS/strata-pull.log" >&2; die "strata pull -a failed"; }
STRATA_PULL_S=$(secs_since "$start")
n=$("$STRATA" --root "$ROOT" images -q | wc -l)
[ "$n" = "$COUNT" ] || die "strata lists $n images after pull -a, expected $COUNT"
log "strata: $n images in ${STRATA_PULL_S} s"

log "strata pull of $SMALL_COUNT tags into a second root"
for i in $(seq 1 "$SMALL_COUNT"); do
  "$STRATA" --root "$SMALL_ROOT" pull -q "$REPOSITORY:$i" >>"$LOGS/strata-small-pull.log" 2>&1 || {
    tail -5 "$LOGS/strata-small-pull.log" >&2; die "strata pull $REPOSITORY:$i failed"; }
done
n=$("$STRATA" --root "$SMALL_ROOT" images -q | wc -l)
[ "$n" = "$SMALL_COUNT" ] || die "the small store lists $n images, expected $SMALL_COUNT"

DOCKER_PULL_S=""
if [ "$DOCKER_OK" = 1 ]; then
  log "docker pull -a $REPOSITORY"
  start=$(date +%s.%N)
  if $DOCKER_CLI pull -q -a "$REPOSITORY" >"$LOGS/docker-pull.log" 2>&1; then
    DOCKER_PULL_S=$(secs_since "$start")
    n=$($DOCKER_CLI images --format '{{.Tag}}' "$REPOSITORY" | wc -l)
    if [ "$n" = "$COUNT" ]; then
      log "docker: $n images in ${DOCKER_PULL_S} s"
    else
      log "docker unavailable: it lists $n images after pull -a, expected $COUNT"; DOCKER_OK=0
    fi
  else
    log "docker unavailable: pull -a failed: $(tail -1 "$LOGS/docker-pull.log")"; DOCKER_OK=0
  fi
fi

# ---------------------------------------------------------------- measurements
declare -A MEDIAN SKIPPED
declare -A CPU
# bench KEY CMD [REGEX]: runs CMD (one string, split by hyperfine -N) once and checks it succeeds and,
# given REGEX, that its first output line matches it (a flag that is accepted but not implemented
# yet is skipped, not measured); then hyperfine. MEDIAN = median wall ms, CPU = mean user+sys ms.
bench() {
  local key=$1 cmd=$2 want=${3:-} json=$LOGS/$1.json
  if ! eval "$cmd" >"$LOGS/$key.check" 2>&1; then
    SKIPPED[$key]="fails: $(head -1 "$LOGS/$key.check" | tr -s ' ' | cut -c1-160)"
    log "$key skipped: ${SKIPPED[$key]}"
    return 0
  fi
  if [ -n "$want" ] && ! head -1 "$LOGS/$key.check" | grep -Eq "$want"; then
    SKIPPED[$key]="accepted but not implemented, printed: $(head -1 "$LOGS/$key.check" | tr -s ' ' | cut -c1-60)"
    log "$key skipped: ${SKIPPED[$key]}"
    return 0
  fi
  if hyperfine -N --warmup "$WARMUP" --runs "$RUNS" --export-json "$json" --output=null "$cmd" \
      >"$LOGS/$key.hyperfine" 2>&1; then
    MEDIAN[$key]=$(jq -r '.results[0].median * 1000' "$json" | awk '{printf "%.1f", $1}')
    CPU[$key]=$(jq -r '(.results[0].user + .results[0].system) * 1000' "$json" | awk '{printf "%.1f", $1}')
    log "$key: ${MEDIAN[$key]} ms"
  else
    SKIPPED[$key]="hyperfine failed: $(tail -1 "$LOGS/$key.hyperfine")"
    log "$key skipped: ${SKIPPED[$key]}"
  fi
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
log "hyperfine -N --warmup $WARMUP --runs $RUNS (load average $LOAD_BEFORE)"
bench strata_images "$STRATA --root $ROOT images"
bench strata_images_format "$STRATA --root $ROOT images --format '{{.ID}}'" '^[0-9a-f]{12}$'
bench strata_inspect "$STRATA --root $ROOT image inspect $PICK"
bench strata_images_small "$STRATA --root $SMALL_ROOT images"
if [ "$DOCKER_OK" = 1 ]; then
  bench docker_images "$DOCKER_CLI images"
  bench docker_images_format "$DOCKER_CLI images --format '{{.ID}}'" '^[0-9a-f]{12}$'
  bench docker_inspect "$DOCKER_CLI image inspect $PICK"
fi

# Files under each strata root, and the syscalls one `strata images` makes on each store.
files_under() { find "$1" | wc -l; }
syscalls_of() { # ROOT -> "total openat+stat-family getdents64"
  strace -f -c -o "$LOGS/strace.$2" "$STRATA" --root "$1" images >/dev/null 2>&1 || { echo "? ? ?"; return; }
  awk '$NF=="total" {t=$(NF-2)} $NF ~ /^(openat|open|newfstatat|statx|stat|lstat|fstat)$/ {o+=$4} $NF=="getdents64" {g=$4} END {print t+0, o+0, g+0}' "$LOGS/strace.$2"
}
FILES_BIG=$(files_under "$ROOT"); FILES_SMALL=$(files_under "$SMALL_ROOT")
read -r SC_BIG OPEN_BIG DENTS_BIG < <(syscalls_of "$ROOT" big)
read -r SC_SMALL OPEN_SMALL DENTS_SMALL < <(syscalls_of "$SMALL_ROOT" small)

# ---------------------------------------------------------------- report
val() { if [ -n "${MEDIAN[$1]:-}" ]; then printf '%s' "${MEDIAN[$1]}"; else printf 'n/a'; fi; }
ratio() { # DOCKER_KEY STRATA_KEY
  if [ -n "${MEDIAN[$1]:-}" ] && [ -n "${MEDIAN[$2]:-}" ]; then
    awk -v d="${MEDIAN[$1]}" -v s="${MEDIAN[$2]}" 'BEGIN {printf "%.1fx", d/s}'
  else printf 'n/a'; fi
}
echo
echo "Listing and inspecting $COUNT images of $REPOSITORY (hyperfine -N, $WARMUP warm-up, $RUNS runs, median ms;"
echo "every store on a tmpfs; $(nproc) CPUs; docker = $($DOCKER_CLI_BIN --version 2>/dev/null | awk '{print $3}' | tr -d ,) CLI, dockerd $($DOCKER_CLI version --format '{{.Server.Version}}' 2>/dev/null || echo n/a))"
printf '%-34s %10s %10s %14s %12s %16s\n' command "strata ms" "docker ms" "docker/strata" "strata CPU" "docker CLI CPU"
row() { # LABEL STRATA_KEY DOCKER_KEY
  printf '%-34s %10s %10s %14s %12s %16s\n' "$1" "$(val "$2")" "$(val "$3")" "$(ratio "$3" "$2")" "${CPU[$2]:-n/a}" "${CPU[$3]:-n/a}"
}
row "images" strata_images docker_images
row "images --format '{{.ID}}'" strata_images_format docker_images_format
row "image inspect ${PICK##*/}" strata_inspect docker_inspect
echo "ms = median wall time; CPU = mean user+system ms of the measured process (docker's work happens in"
echo "dockerd, so its CPU column is the client's only). Load average when timing began: $LOAD_BEFORE"
for k in strata_images_format docker_images docker_images_format docker_inspect; do
  [ -n "${SKIPPED[$k]:-}" ] && printf '  (%s skipped: %s)\n' "$k" "${SKIPPED[$k]}"
done
echo
echo "pull -a of the $COUNT tags (wall s, not a target): strata ${STRATA_PULL_S}, docker ${DOCKER_PULL_S:-n/a}"

echo
echo "Does \`strata images\` scale with the files on disk? (same binary, two stores)"
printf '%-22s %8s %14s %10s %8s %10s %10s %11s\n' store images "files on disk" "images ms" "CPU ms" syscalls "open+stat" getdents64
printf '%-22s %8s %14s %10s %8s %10s %10s %11s\n' "$COUNT-image store" "$COUNT" "$FILES_BIG" "$(val strata_images)" "${CPU[strata_images]:-n/a}" "$SC_BIG" "$OPEN_BIG" "$DENTS_BIG"
printf '%-22s %8s %14s %10s %8s %10s %10s %11s\n' "$SMALL_COUNT-image store" "$SMALL_COUNT" "$FILES_SMALL" "$(val strata_images_small)" "${CPU[strata_images_small]:-n/a}" "$SC_SMALL" "$OPEN_SMALL" "$DENTS_SMALL"
if [ -n "${MEDIAN[strata_images]:-}" ] && [ -n "${MEDIAN[strata_images_small]:-}" ]; then
  awk -v b="${MEDIAN[strata_images]}" -v s="${MEDIAN[strata_images_small]}" -v fb="$FILES_BIG" -v fs="$FILES_SMALL" \
      -v nb="$COUNT" -v ns="$SMALL_COUNT" -v ob="$OPEN_BIG" -v os="$OPEN_SMALL" -v db="$DENTS_BIG" -v ds="$DENTS_SMALL" 'BEGIN {
    printf "  %.0fx the images (rows) and %.0fx the files on disk: %.1fx the time\n", nb/ns, fb/fs, b/s
    v = (ob == os && db == ds) ? "PASS (no per-file work: the same opens and stats on both stores)" : "FAIL (more file-system calls on the bigger store)"
    printf "  independent of files on disk: %s\n", v
  }'
fi

echo
echo "Targets (issue 3):"
case "${MEDIAN[strata_images]:-}" in
  '') echo "  strata images < 20 ms: n/a ${SKIPPED[strata_images]:-}" ;;
  *) awk -v m="${MEDIAN[strata_images]}" -v c="$COUNT" -v u="${CPU[strata_images]}" 'BEGIN {printf "  strata images (%d images) < 20 ms: %s ms  %s   (CPU %s ms)\n", c, m, (m<20?"PASS":"FAIL"), u}' ;;
esac
case "${MEDIAN[strata_inspect]:-}" in
  '') echo "  strata image inspect < 10 ms: n/a ${SKIPPED[strata_inspect]:-}" ;;
  *) awk -v m="${MEDIAN[strata_inspect]}" -v u="${CPU[strata_inspect]}" 'BEGIN {printf "  strata image inspect < 10 ms: %s ms  %s   (CPU %s ms)\n", m, (m<10?"PASS":"FAIL"), u}' ;;
esac
echo "  (load average at the end: $(cut -d' ' -f1-3 /proc/loadavg))"
