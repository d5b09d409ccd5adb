#!/bin/bash
# Records the goldens of `rmi` and the prune prompts from a real Docker (the docker 28 CLI
# against Debian's dockerd 20.10, classic store) on the fixture images the tests build. Only
# repositories under {REGISTRY}/rmi/ are pulled, tagged and removed (dockerd is shared); the
# prune prompts are answered "n", so nothing is pruned. Each case: stdout+stderr into
# rmi-<case>.txt with the exit status on the last line.
# Usage: crates/cli/tests/it/golden/record-rmi.sh
. "$(dirname "$0")/lab.sh"
mine() { $D images -q --filter "reference=$REG/rmi/*" | sort -u; }
for img in $(mine); do $D rmi -f "$img" >/dev/null; done
push four-layer rmi/four:1
push sample rmi/sample:1
redact() { sed -e "s#$REG#{REGISTRY}#g" -e 's#^Error response from daemon: #Error: #'; }
rec() { # case args...
  local name=$1; shift
  { set +e; $D "$@" 2>&1; echo "exit $?"; set -e; } | redact >> "$HERE/rmi-$name.txt"
}
R=$REG/rmi
for f in "$HERE"/rmi-*.txt; do rm -f "$f"; done
$D pull -q $R/four:1 >/dev/null
$D pull -q $R/sample:1 >/dev/null
ID=$($D images -q $R/four:1)
$D tag $R/four:1 $R/four:2
$D tag $R/four:1 $R/other:x
rec multi-repo rmi "$ID"
rec multi-repo rmi $R/four:2
rec multi-repo rmi -f "$ID"
$D pull -q $R/four:1 >/dev/null
rec by-digest rmi "$($D image inspect --format "{{index .RepoDigests 0}}" $R/four:1)"
rec by-digest rmi $R/four:1
rec missing rmi $R/nothere 0123456789ab sha256:0123456789ab
rec missing rmi -f $R/nothere
$D pull -q $R/four:1 >/dev/null
rec several rmi $R/nothere $R/four:1 $R/sample:1
rec several images -q $R/four
for p in "image prune" "image prune -a" "system prune" "system prune -a"; do
  # shellcheck disable=SC2086
  { set +e; echo n | $D $p 2>&1; rc=$?; echo; echo "exit $rc"; set -e; } > "$HERE/rmi-prompt-${p// /-}.txt"
done
for img in $(mine); do $D rmi -f "$img" >/dev/null; done
echo "recorded into $HERE"
