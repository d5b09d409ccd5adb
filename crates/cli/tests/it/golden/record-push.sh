#!/bin/bash
# Records the goldens of `push` from a real Docker (the docker 28 CLI against Debian's dockerd
# 20.10, classic store) on the fixture images the tests build: the lab registry on 127.0.0.1:5000,
# plus an htpasswd registry on a free loopback port for the authentication case (dockerd treats
# 127.0.0.0/8 as insecure). The lab registry keeps its data, so every run uses fresh repositories
# push<RUN>/… and pushsrc<RUN>/…, written as push/… and pushsrc/…. Pushed manifests' digests and
# sizes are written as {DIGEST} {SIZE}: dockerd builds its own schema 2 manifest (and re-compresses
# what it uploads) where strata pushes the bytes it pulled; the tests check strata's digests on
# their own. Output is non-TTY; each case: the command line, stdout+stderr (the daemon's
# "Error response from daemon: " written as strata's "Error: "), the exit status.
# Usage: crates/cli/tests/it/golden/record-push.sh
. "$(dirname "$0")/lab.sh"
RUN=$(date +%s)$$
P=$REG/push$RUN
S=$REG/pushsrc$RUN
AUTH_PID=
cleanup_push() {
  [ -n "$AUTH_PID" ] && kill "$AUTH_PID" 2>/dev/null
  for img in $($D images -q --filter "reference=*/push$RUN/*" --filter "reference=*/pushsrc$RUN/*" | sort -u); do
    $D rmi -f "$img" >/dev/null 2>&1
  done
  for img in $($D images -q --filter "reference=*/priv/four" | sort -u); do $D rmi -f "$img" >/dev/null 2>&1; done
  rm -rf "$W"
}
trap cleanup_push EXIT
redact() {
  sed -E -e "s#pushsrc$RUN#pushsrc#g" -e "s#push$RUN#push#g" -e "s#$REG#{REGISTRY}#g" \
    -e "s#127\.0\.0\.1:${AUTH_PORT:-0}#{AUTHREG}#g" -e 's#127\.0\.0\.1:1/#{REFUSED}/#g' \
    -e 's#127\.0\.0\.1:1:#{REFUSED}:#g' -e 's#^Error response from daemon: #Error: #' \
    -e 's#digest: sha256:[0-9a-f]{64} size: [0-9]+#digest: {DIGEST} size: {SIZE}#'
}
rec() { # case args...
  local name=$1; shift
  { echo "\$ docker $*"; set +e; $D "$@" 2>&1; echo "exit $?"; set -e; } | redact >> "$HERE/push-$name.txt"
}
for f in "$HERE"/push-*.txt; do rm -f "$f"; done

# Layers Docker pulled from pushsrc/four are mounted from there into push/four, then exist.
push four-layer "pushsrc$RUN/four:1"
$D pull -q "$S/four:1" >/dev/null
$D tag "$S/four:1" "$P/four:1"
rec mount push "$P/four:1"
rec exists push "$P/four:1"
$D tag "$P/four:1" "$P/four:2"
rec all-tags push -a "$P/four"
rec quiet push -q "$P/four:1"

# A layer no registry holds (the sample fixture's first layer, imported): Pushed; then mounted
# into another repository.
"$FIX" sample "$W/sample" t >/dev/null
LAYER=$(jq -r '.manifests[0].digest' "$W/sample/index.json" | sed 's/sha256://')
LAYER=$(jq -r '.layers[0].digest' "$W/sample/blobs/sha256/$LAYER" | sed 's/sha256://')
gzip -dc < "$W/sample/blobs/sha256/$LAYER" > "$W/layer.tar"
$D import "$W/layer.tar" "$P/imported:1" >/dev/null
rec import push "$P/imported:1"
$D tag "$P/imported:1" "$P/imported2:1"
rec import-mount push "$P/imported2:1"

# Errors.
DIGEST=$($D image inspect --format '{{index .RepoDigests 0}}' "$S/four:1" | sed 's/.*@//')
rec errors push "$P/nothere:1"
rec errors push "$P/four:nope"
rec errors push "$P/four"
rec errors push -a "$P/four:1"
rec errors push "$P/four@$DIGEST"
rec errors push "Bad/Name"
$D tag "$S/four:1" 127.0.0.1:1/push$RUN/x:1
rec errors push 127.0.0.1:1/push$RUN/x:1
$D rmi 127.0.0.1:1/push$RUN/x:1 >/dev/null

# A registry that wants a login.
AUTH_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
htpasswd -Bbn alice wonder-land > "$W/htpasswd"
cat > "$W/auth.yml" <<CFG
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $W/authreg
http:
  addr: 127.0.0.1:$AUTH_PORT
auth:
  htpasswd:
    realm: strata-test
    path: $W/htpasswd
CFG
docker-registry serve "$W/auth.yml" >"$W/auth.log" 2>&1 &
AUTH_PID=$!
for _ in $(seq 1 50); do curl -s "http://127.0.0.1:$AUTH_PORT/v2/" >/dev/null && break; sleep 0.1; done
$D tag "$S/four:1" "127.0.0.1:$AUTH_PORT/priv/four:1"
rec auth push "127.0.0.1:$AUTH_PORT/priv/four:1"
echo "recorded into $HERE"
