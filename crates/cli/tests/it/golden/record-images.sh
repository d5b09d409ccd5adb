#!/bin/bash
# Records the goldens of `images` and `image inspect --format` from a real Docker (the docker 28
# CLI against Debian's dockerd 20.10) on the fixture images the tests build. Only repositories
# under {REGISTRY}/tmpl/ are pulled, listed and removed (dockerd is shared). Each case is one
# command; its stdout+stderr go to images-<case>.txt with the exit status on the last line.
# Usage: crates/cli/tests/it/golden/record-images.sh
. "$(dirname "$0")/lab.sh"
mine() { $D images -q --filter "reference=$REG/tmpl/*" | sort -u; }
for img in $(mine); do $D rmi -f "$img" >/dev/null; done
push four-layer tmpl/four:1
push sample tmpl/sample:1
$D pull -q $REG/tmpl/four:1 >/dev/null
$D pull -q $REG/tmpl/sample:1 >/dev/null
redact() { sed -e "s#$REG#{REGISTRY}#g" -e 's#^Error response from daemon: #Error: #'; }
rec() { # case args...
  local name=$1; shift
  { set +e; $D "$@" 2>&1; echo "exit $?"; set -e; } | redact > "$HERE/images-$name.txt"
}
R=$REG/tmpl
ALL='table {{.ID}}\t{{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.CreatedSince}}\t{{.CreatedAt}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}'
rec default images $R/four
rec all images -a $R/four
rec quiet images -q $R/four
rec digests images --digests $R/four
rec no-trunc images --no-trunc $R/four
rec quiet-filter images -q --filter label=org.example.fixture "$R/*"
rec filter-label images --filter label=org.example.fixture --format '{{.Repository}}:{{.Tag}}' "$R/*"
rec filter-label-value images --filter label=org.example.fixture=sample --filter label=org.example.fixture --format '{{.Repository}}' "$R/*"
rec filter-label-nomatch images --filter label=org.example.fixture=other "$R/*"
rec filter-reference images --filter "reference=*/tmpl/f*" --format '{{.Repository}}:{{.Tag}}'
rec filter-reference-or images --filter "reference=*/tmpl/f*" --filter "reference=*/tmpl/s*:1" --format '{{.Repository}}:{{.Tag}}'
rec filter-dangling images --filter dangling=true "$R/*"
rec filter-dangling-false images --filter dangling=false --format '{{.Repository}}' $R/four
rec filter-before images --filter before=$R/four:1 "$R/*"
rec filter-since images --filter since=$R/four:1 "$R/*"
rec filter-before-missing images --filter before=$R/nothere:1 "$R/*"
rec filter-bogus images --filter bogus=1
rec filter-dangling-bad images --filter dangling=maybe
rec format-table images --format "$ALL" $R/four
rec format-table-digests images --digests --format 'table {{.ID}}' $R/four
rec format-json images --format json $R/four
rec format-raw images --format '{{.ID}}|{{.Repository}}|{{.Tag}}|{{.Digest}}|{{.CreatedSince}}|{{.CreatedAt}}|{{.Size}}|{{.SharedSize}}|{{.UniqueSize}}|{{.Containers}}|{{json .Tag}}|{{upper .Tag}}' $R/four
rec format-parse-error images --format '{{.ID' $R/four
for f in RootFS Config.Env Id ID Architecture; do
  rec "inspect-$f" image inspect --format "{{.$f}}" $R/four:1
done
rec inspect-json-config image inspect --format '{{json .Config}}' $R/four:1
rec inspect-missing image inspect $R/nothere:1
rec inspect-some-missing image inspect --format '{{.Os}}' $R/four:1 $R/nothere:1
rec inspect-parse-error image inspect --format '{{.Id' $R/four:1
for img in $(mine); do $D rmi -f "$img" >/dev/null; done
echo "recorded into $HERE"
