#!/bin/bash
# Records the golden outputs of a real Docker (Debian's dockerd 20.10 driven by the docker CLI on this
# machine) on the same fixture images the tests build, so strata's output is checked against what
# Docker itself prints. Needs root and the peer lab (../shared/lab: registry on 127.0.0.1:5000 and
# dockerd). The registry address is written as {REGISTRY}; digests are kept (the fixtures are
# deterministic). Usage: crates/cli/tests/it/golden/record.sh
. "$(dirname "$0")/lab.sh"
redact() { sed -e "s#$REG#{REGISTRY}#g" -e 's#127\.0\.0\.1:1/#{REFUSED}/#g' -e 's#127\.0\.0\.1:1:#{REFUSED}:#g'; }
push four-layer golden/four:1
push sample golden/sample:1
for img in $($D images -q | sort -u); do $D rmi -f "$img" >/dev/null; done

# Cold pull, non-TTY (line order between layers depends on timing: the test compares line sets).
$D pull $REG/golden/four:1 | redact > "$HERE/pull-cold-four.txt"
$D pull $REG/golden/four:1 | redact > "$HERE/pull-up-to-date.txt"
DIGEST=$(sed -n 's/^Digest: //p' "$HERE/pull-up-to-date.txt")
$D pull $REG/golden/four@"$DIGEST" | redact > "$HERE/pull-by-digest-up-to-date.txt"
$D pull -a $REG/golden/four | redact > "$HERE/pull-all-tags-up-to-date.txt"
$D pull $REG/golden/sample:1 | redact > "$HERE/pull-sample-shared-none.txt"
{
  $D pull $REG/golden/four:nope 2>&1 || true
  $D pull $REG/golden/nothere:1 2>&1 || true
  $D pull 127.0.0.1:1/golden/x:1 2>&1 || true
} | grep -v '^Using default tag' | redact > "$HERE/pull-errors.txt"
for img in $($D images -q | sort -u); do $D rmi -f "$img" >/dev/null; done
echo "recorded into $HERE"
