#!/bin/bash
# Peers against strata's registry: `docker pull` / `docker push` through dockerd 20.10 (the lab's
# dockerd-start.sh), `podman pull` / `podman push`, `skopeo inspect`, and strata pulling what the
# peers pushed. Each check prints PASS or FAIL; a missing peer prints SKIP. Exit 1 if any check failed.
#
# Environment: LAB_SCRIPTS (default ../shared/lab beside the repository), CARGO_TARGET_DIR,
# SKIP_BUILD=1. Needs root for dockerd and podman.
set -uo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
LAB_SCRIPTS=${LAB_SCRIPTS:-$(cd "$REPO/../shared/lab" 2>/dev/null && pwd)}
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
STRATA=$TARGET/release/strata
SAMPLE=$TARGET/release/sample-image
if [ -z "${SKIP_BUILD:-}" ]; then
  (cd "$REPO" && cargo build --release -p strata -p test-support --bins) >&2 || exit 1
fi

WORK=$(mktemp -d /var/tmp/strata-interop.XXXXXX)
STARTED_DOCKERD=0 FAILS=0
cleanup() {
  [ -n "${SPID:-}" ] && kill "$SPID" 2>/dev/null
  [ "$STARTED_DOCKERD" = 1 ] && "$LAB_SCRIPTS/dockerd-stop.sh" >/dev/null 2>&1
  [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

pass() { printf 'PASS  %s\n' "$*"; }
fail() { printf 'FAIL  %s\n' "$*"; FAILS=$((FAILS + 1)); }
skip() { printf 'SKIP  %s\n' "$*"; }
check() { local what=$1; shift; if "$@" >>"$WORK/log" 2>&1; then pass "$what"; else fail "$what (log: tail of $WORK/log below)"; tail -5 "$WORK/log"; fi; }

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
REG=127.0.0.1:$PORT
"$STRATA" registry serve --addr "$REG" --root "$WORK/registry" >"$WORK/registry.log" 2>&1 &
SPID=$!
for _ in $(seq 50); do curl -sf "http://$REG/v2/" >/dev/null && break; sleep 0.1; done

"$SAMPLE" "$WORK/layout" latest >/dev/null
check "skopeo copy into strata's registry" \
  skopeo copy -q --insecure-policy --dest-tls-verify=false "oci:$WORK/layout:latest" "docker://$REG/sample/busybox:latest"
WANT=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$REG/sample/busybox:latest" 2>>"$WORK/log")
[ -n "$WANT" ] && pass "skopeo inspect: $WANT" || fail "skopeo inspect"

# ---- docker (dockerd 20.10; loopback registries are insecure by default for dockerd)
DOCKER="/usr/bin/docker -H unix:///var/tmp/lab/docker.sock"
if [ "$(id -u)" = 0 ] && command -v dockerd >/dev/null && [ -x "$LAB_SCRIPTS/dockerd-start.sh" ]; then
  if ! $DOCKER version >/dev/null 2>&1; then "$LAB_SCRIPTS/dockerd-start.sh" >/dev/null 2>&1 && STARTED_DOCKERD=1; fi
  # Start cold: a daemon that already holds the image (pulled from elsewhere) skips the download,
  # records no blob for this registry and then re-compresses the layer on push.
  ID=$(skopeo inspect --tls-verify=false --raw "docker://$REG/sample/busybox:latest" 2>>"$WORK/log" | jq -r .config.digest)
  $DOCKER rmi -f "$ID" >>"$WORK/log" 2>&1
  check "docker pull from strata's registry" $DOCKER pull "$REG/sample/busybox:latest"
  GOT=$($DOCKER image inspect --format '{{join .RepoDigests " "}}' "$REG/sample/busybox:latest" 2>>"$WORK/log")
  case " $GOT " in
    *" $REG/sample/busybox@$WANT "*) pass "docker's RepoDigest is the registry's digest" ;;
    *) fail "docker RepoDigests [$GOT] lack $REG/sample/busybox@$WANT" ;;
  esac
  $DOCKER tag "$REG/sample/busybox:latest" "$REG/from/docker:1" >>"$WORK/log" 2>&1
  OUT=$($DOCKER push "$REG/from/docker:1" 2>>"$WORK/log"); echo "$OUT" >>"$WORK/log"
  PUSHED=$(echo "$OUT" | sed -n 's/^1: digest: \(sha256:[0-9a-f]*\) size: .*/\1/p')
  [ -n "$PUSHED" ] && pass "docker push to strata's registry ($PUSHED)" || fail "docker push"
  echo "$OUT" | sed 's/^/      docker: /'
  echo "$OUT" | grep -Eq 'Mounted from sample/busybox|Layer already exists' \
    && pass "docker push sent no layer bytes (mounted from sample/busybox or already there)" \
    || fail "docker push uploaded a layer the registry already had in another repository"
  check "strata pulls what docker pushed" "$STRATA" --root "$WORK/store" pull "$REG/from/docker@$PUSHED"
  $DOCKER rmi -f "$ID" >/dev/null 2>&1
else
  skip "docker (needs root, dockerd and $LAB_SCRIPTS/dockerd-start.sh)"
fi

# ---- podman
if [ "$(id -u)" = 0 ] && command -v podman >/dev/null; then
  P=(podman --root "$WORK/podman/root" --runroot "$WORK/podman/run" --storage-driver vfs --events-backend file)
  check "podman pull from strata's registry" "${P[@]}" pull --tls-verify=false "$REG/sample/busybox:latest"
  check "podman push to strata's registry" "${P[@]}" push --tls-verify=false "$REG/sample/busybox:latest" "docker://$REG/from/podman:1"
  check "strata pulls what podman pushed" "$STRATA" --root "$WORK/store" pull "$REG/from/podman:1"
  "${P[@]}" rmi -a -f >/dev/null 2>&1
else
  skip "podman (needs root and podman)"
fi

# ---- strata itself, and the catalog every peer wrote into
check "strata push to strata's registry" "$STRATA" --root "$WORK/store" push "$REG/from/podman:1"
CAT=$(curl -sf "http://$REG/v2/_catalog")
echo "catalog: $CAT"
[ "$FAILS" = 0 ] || { echo "$FAILS check(s) failed; logs kept in $WORK" >&2; KEEP=1; exit 1; }
