#!/bin/bash
# Records the golden outputs of the docker 28 CLI's local manifest lists (`docker manifest create`,
# `annotate`, `inspect` of a local list, `push`, `rm`; the CLI talks to the registry itself — no
# daemon) on the fixture images the tests build: the three platforms of the multi-arch fixture as
# separate images, with OCI and with Docker media types. Needs the peer lab's registry
# (../shared/lab: 127.0.0.1:5000). The registry address is written as {REGISTRY}; digests are kept
# (the fixtures are deterministic, and a pushed list's bytes do not name the registry). Errors are
# recorded as Docker prints them (no prefix; strata prints `Error: ` first).
# Usage: crates/cli/tests/it/golden/record-manifest-list.sh
NEED_DOCKERD=0 . "$(dirname "$0")/lab.sh"
export DOCKER_CONFIG="$W/docker-config"
mkdir -p "$DOCKER_CONFIG"
R=$REG/golden/ml
RD=$REG/golden/mld
M="$DOCKER manifest"
out() { redact > "$HERE/manifest-list-$1.txt"; }
for a in amd64 arm64 arm; do
  "$FIX" "arch-$a" "$W/arch-$a" t --push "$REG" "golden/ml:$a" >/dev/null
  "$FIX" "docker-arch-$a" "$W/docker-arch-$a" t --push "$REG" "golden/mld:$a" >/dev/null
done
"$FIX" manifest-list "$W/manifest-list" t --push "$REG" golden/manifest:manifest-list >/dev/null

# A list of OCI manifests: create, inspect it locally, annotate an entry.
$M create --insecure "$R:list" "$R:amd64" "$R:arm64" "$R:arm" | out created
$M inspect "$R:list" | out inspect
$M inspect -v "$R:list" | out inspect-verbose
$M inspect "$R:list" "$R:arm64" | out inspect-entry
$M inspect -v "$R:list" "$R:arm64" | out inspect-entry-verbose
$M annotate "$R:list" "$R:arm" --variant v6 --os-version 1.0 --os-features f1,f2 --os-features f1
$M inspect -v "$R:list" "$R:arm" | out annotated-entry-verbose
{
  $M create --insecure "$R:list" "$R:amd64" 2>&1 || true
  $M create --insecure "$R:l2" "$REG/golden/manifest:manifest-list" 2>&1 || true
  $M create --insecure "$R:l2" "$R:nope" 2>&1 || true
  $M annotate "$R:list" "$R:nope" --arch arm 2>&1 || true
  $M annotate "$R:list" "$R:amd64" --arch aarch64 2>&1 || true
  $M annotate "$R:list" "$R:amd64" --os linux --arch mips 2>&1 || true
  $M inspect "$R:list" "$R:nope" 2>&1 || true
  $M rm "$R:nope" "$R:list-nope" 2>&1 || true
  $M push --insecure "$R:nope" 2>&1 || true
} | out errors
$M create --amend --insecure "$R:list" "$R:amd64" | out amended
# Push: the digest line, and the list's bytes as the registry holds them.
$M push --insecure "$R:list" | out push
skopeo inspect --raw --tls-verify=false "docker://$R:list" > "$HERE/manifest-list-pushed.json"
# Docker media types → a Docker manifest list; --purge removes the local list.
$M create --insecure "$RD:list" "$RD:amd64" "$RD:arm64" "$RD:arm" >/dev/null
$M push --purge --insecure "$RD:list" | out push-docker
skopeo inspect --raw --tls-verify=false "docker://$RD:list" > "$HERE/manifest-list-pushed-docker.json"
$M inspect --insecure "$RD:list" | out after-purge
# A list in another repository: the entries' blobs are mounted and their manifests pushed there.
$M create --insecure "$REG/golden/ml-other:list" "$R:amd64" "$R:arm64" >/dev/null
$M push --insecure "$REG/golden/ml-other:list" | out push-other-repo
$M rm "$R:list" "$REG/golden/ml-other:list"
echo "recorded into $HERE"
