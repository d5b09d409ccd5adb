#!/bin/bash
# Records the golden outputs of `docker search` (the docker 28 CLI through the lab's dockerd 20.10,
# which queries `/v1/search` of the registry itself; 127.0.0.0/8 is insecure to dockerd by default)
# against strata's own registry (`strata registry serve` on a free port) holding the fixtures and
# repository metadata the test sets up. The registry address is written as {REGISTRY}.
# dockerd 20.10 refuses the docker 28 CLI's default limit (0; newer daemons read it as 25), so every
# command passes `--limit` explicitly. Usage: crates/cli/tests/it/golden/record-search.sh
. "$(dirname "$0")/lab.sh"
cargo build -q -p strata --manifest-path "$REPO/Cargo.toml"
STRATA="$CARGO_TARGET_DIR/debug/strata"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ADDR=127.0.0.1:$PORT
"$STRATA" registry serve --addr "$ADDR" --root "$W/registry" 2>"$W/registry.log" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$W"' EXIT
for i in $(seq 1 50); do curl -sf "http://$ADDR/v2/" >/dev/null && break; sleep 0.1; done
for r in lab/ubuntu lab/ubuntu-minimal tools/ubu-utils other/thing; do
  "$FIX" sample "$W/sample" t --push "$ADDR" "$r:1" >/dev/null
done
set_meta() { "$STRATA" registry repo set --root "$W/registry" "$@" >/dev/null; }
set_meta lab/ubuntu --description "Ubuntu is a Debian-based Linux operating system based on free software." --stars 17000 --official
set_meta lab/ubuntu-minimal --description $'Minimal Ubuntu:\nsmall & <quick>' --stars 12
set_meta tools/ubu-utils --description "日本語の説明、とても長い説明文がここに続きます。幅の広い文字" --stars 3
redact() { sed -e "s#$ADDR#{REGISTRY}#g"; }
S="$D search --limit 25"
{
  echo '$ search {REGISTRY}/ubu'; $S "$ADDR/ubu"
  echo '$ search --no-trunc {REGISTRY}/ubu'; $S --no-trunc "$ADDR/ubu"
  echo '$ search --limit 2 {REGISTRY}/ubu'; $D search --limit 2 "$ADDR/ubu"
  echo '$ search -f is-official=true {REGISTRY}/ubu'; $S -f is-official=true "$ADDR/ubu"
  echo '$ search -f stars=10 {REGISTRY}/ubu'; $S -f stars=10 "$ADDR/ubu"
  echo '$ search -f is-official=false -f stars=5 {REGISTRY}/UBU'; $S -f is-official=false -f stars=5 "$ADDR/UBU"
  echo '$ search --format json {REGISTRY}/ubu'; $S --format json "$ADDR/ubu"
  echo '$ search --format {{.Name}}|{{.StarCount}}|{{.IsOfficial}} {REGISTRY}/ubu'; $S --format '{{.Name}}|{{.StarCount}}|{{.IsOfficial}}' "$ADDR/ubu"
  echo '$ search --format table {{.Name}}\t{{.Description}} {REGISTRY}/debian'; $S --format 'table {{.Name}}\t{{.Description}}' "$ADDR/debian"
  echo '$ search {REGISTRY}/nothing'; $S "$ADDR/nothing"
} 2>&1 | redact > "$HERE/search-strata.txt"
echo "recorded into $HERE"
