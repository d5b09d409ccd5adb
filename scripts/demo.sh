#!/bin/bash
# The main job, offline, on strata alone: start strata's own registry on loopback, import a busybox
# root filesystem (from Debian's busybox-static) as an image, push it, describe it, search for it,
# remove it locally, pull it back into the store, list, inspect and mount it, and run containers
# from it (as root, with runc).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
cargo build --locked --release -p strata >&2
STRATA=$PWD/target/release/strata
WORK=$(mktemp -d /tmp/strata-demo.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
REG=127.0.0.1:$PORT
IMG=$REG/demo/busybox
cleanup() {
  "$STRATA" --root "$WORK/store" image unmount "$IMG" >/dev/null 2>&1 || true
  [ -n "${REG_PID:-}" ] && kill "$REG_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "+ strata registry serve --addr $REG --root $WORK/registry &"
"$STRATA" registry serve --addr "$REG" --root "$WORK/registry" 2>"$WORK/registry.log" &
REG_PID=$!
for _ in $(seq 50); do curl -sf "http://$REG/v2/" >/dev/null && break; sleep 0.1; done

# A root filesystem: busybox and its applets, a passwd and group file.
mkdir -p "$WORK/rootfs/bin" "$WORK/rootfs/etc" "$WORK/rootfs/tmp"
cp /bin/busybox "$WORK/rootfs/bin/busybox"
for applet in sh ls cat echo sleep id uname wc head; do ln -s busybox "$WORK/rootfs/bin/$applet"; done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$WORK/rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$WORK/rootfs/etc/group"
tar -C "$WORK/rootfs" --numeric-owner --owner=0 --group=0 -cf "$WORK/rootfs.tar" .

run() { echo "+ strata $*"; "$STRATA" --root "$WORK/store" "$@"; }
run import -c 'CMD ["sh"]' -c 'ENV PATH=/bin' -m "busybox from Debian's busybox-static" "$WORK/rootfs.tar" "$IMG:latest"
run push "$IMG:latest"
echo "+ strata registry repo set --root $WORK/registry demo/busybox --description … --stars 7 --official"
"$STRATA" registry repo set --root "$WORK/registry" demo/busybox \
  --description "BusyBox from Debian's busybox-static, imported and pushed by strata" --stars 7 --official
run search "$REG/busy"
run rmi "$IMG:latest"
run pull "$IMG"
run pull "$IMG"
run images
run image inspect --format '{{.Id}} {{.Os}}/{{.Architecture}} {{json .Config.Cmd}} {{.RepoDigests}}' "$IMG"
M=$("$STRATA" --root "$WORK/store" image mount "$IMG")
echo "+ mounted at $M"; ls "$M" "$M/bin"
if [ "$(id -u)" = 0 ]; then
  # Containers need root (namespaces, overlay mounts) and runc.
  run run --rm "$IMG" sh -c 'echo hello from a busybox container; id; cat /etc/passwd'
  run run -d --name ticker "$IMG" sh -c 'for i in 1 2 3; do echo tick $i; sleep 1; done'
  run ps
  run wait ticker
  run logs ticker
  run rm ticker
fi
run image unmount "$IMG"
