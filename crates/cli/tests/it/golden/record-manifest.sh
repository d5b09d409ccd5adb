#!/bin/bash
# Records the golden outputs of `docker manifest inspect` (the docker 28 CLI at /usr/local/bin/docker,
# which talks to the registry itself — no daemon) on the fixture images the tests build: an OCI
# manifest, a Docker schema2 manifest, an OCI index and a Docker manifest list. Needs the peer lab's
# registry (../shared/lab: 127.0.0.1:5000). The registry address is written as {REGISTRY}; digests
# are kept (the fixtures are deterministic). Errors are recorded as Docker prints them (no prefix;
# strata prints `Error: ` first). Usage: crates/cli/tests/it/golden/record-manifest.sh
NEED_DOCKERD=0 . "$(dirname "$0")/lab.sh"
export DOCKER_CONFIG="$W/docker-config"
mkdir -p "$DOCKER_CONFIG"
R=$REG/golden/manifest
redact() { sed -e "s#$REG#{REGISTRY}#g"; }
for f in sample docker-sample multi-arch manifest-list; do
  "$FIX" "$f" "$W/$f" t --push "$REG" "golden/manifest:$f" >/dev/null
  $DOCKER manifest inspect --insecure "$R:$f" | redact > "$HERE/manifest-inspect-$f.txt"
  $DOCKER manifest inspect --insecure -v "$R:$f" | redact > "$HERE/manifest-inspect-$f-verbose.txt"
done
LIST=$("$FIX" manifest-list "$W/again" t)
$DOCKER manifest inspect --insecure -v "$R@$LIST" | redact > "$HERE/manifest-inspect-by-digest-verbose.txt"
$DOCKER manifest inspect --insecure -v "$R:manifest-list@$LIST" \
  | redact > "$HERE/manifest-inspect-tag-and-digest-verbose.txt"
{
  $DOCKER manifest inspect --insecure "$R:nope" 2>&1 || true
  $DOCKER manifest inspect --insecure -v "$REG/golden/nothere" 2>&1 || true
  $DOCKER manifest inspect --insecure "$R:manifest-list" "$R:sample" 2>&1 || true
} | redact > "$HERE/manifest-inspect-errors.txt"
echo "recorded into $HERE"
