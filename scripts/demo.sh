#!/bin/bash
# The main job, offline: start a local registry (Debian's CNCF distribution) on loopback, push a
# runnable busybox image built from Debian's busybox-static, pull it with strata into a fresh store,
# list it, inspect it, mount it read-only, and run containers from it (as root, with runc).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
cargo build --locked --release -p strata -p test-support --bins >&2
STRATA=$PWD/target/release/strata
WORK=$(mktemp -d /tmp/strata-demo.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
REG=127.0.0.1:$PORT
cleanup() {
  "$STRATA" --root "$WORK/store" image unmount "$REG/sample/busybox" >/dev/null 2>&1 || true
  [ -n "${REG_PID:-}" ] && kill "$REG_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
cat > "$WORK/registry.yml" <<CFG
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $WORK/registry}, delete: {enabled: true}}
http: {addr: $REG}
CFG
docker-registry serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
REG_PID=$!
for _ in $(seq 50); do curl -sf "http://$REG/v2/" >/dev/null && break; sleep 0.1; done

echo "+ building a busybox image (OCI layout) and pushing it to $REG with skopeo"
./target/release/sample-image "$WORK/layout" latest
skopeo copy --quiet --insecure-policy --dest-tls-verify=false oci:"$WORK/layout":latest docker://"$REG"/sample/busybox:latest

run() { echo "+ strata $*"; "$STRATA" --root "$WORK/store" "$@"; }
run pull "$REG/sample/busybox"
run pull "$REG/sample/busybox"
run images
run image inspect "$REG/sample/busybox" | head -24
M=$("$STRATA" --root "$WORK/store" image mount "$REG/sample/busybox")
echo "+ mounted at $M"; ls "$M" "$M/bin" | head -20
if [ "$(id -u)" = 0 ]; then
  # Containers need root (namespaces, overlay mounts) and runc.
  run run --rm "$REG/sample/busybox" sh -c 'echo hello from a busybox container; cat /etc/passwd'
  run run -d --name ticker "$REG/sample/busybox" sh -c 'for i in 1 2 3; do echo tick $i; sleep 1; done'
  run ps
  run wait ticker
  run logs ticker
  run rm ticker
fi
run image unmount "$REG/sample/busybox"
