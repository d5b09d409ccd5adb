#!/bin/bash
# Records the golden outputs of a real Docker (Debian's dockerd 20.10 driven by the docker 28 CLI on
# this machine) for `tag`, `history` and `system df` on the fixture images the tests build
# (crates/cli/tests/it/history.rs). Needs root and the peer lab (../shared/lab: registry on
# 127.0.0.1:5000 and dockerd). Only images under 127.0.0.1:5000/hist/ are touched: dockerd is shared.
# `system df` totals are only exact when no other images are in dockerd; the script refuses to
# record them otherwise. The registry address is written as {REGISTRY}. Dates print in UTC.
# Usage: crates/cli/tests/it/golden/record-history.sh
. "$(dirname "$0")/lab.sh"
mine() { $D images --format '{{.Repository}}:{{.Tag}} {{.ID}}' | awk -v p="$REG/hist/" 'index($1, p) == 1 {print $2}' | sort -u; }
cleanup() { for img in $(mine); do $D rmi -f "$img" >/dev/null; done; }
push history hist/history:1
push no-history hist/nohist:1
push four-layer hist/four:1
cleanup
for r in history:1 nohist:1 four:1; do $D pull -q $REG/hist/$r >/dev/null; done
H=$REG/hist/history:1

{
  echo '$ history'; $D history $H
  echo '$ history -H=false'; $D history -H=false $H
  echo '$ history --human=false --no-trunc'; $D history --human=false --no-trunc $H
  echo '$ history -q'; $D history -q $H
  echo '$ history -q --no-trunc'; $D history -q --no-trunc $H
  echo '$ history --format {{.ID}}|{{.CreatedAt}}|{{.CreatedBy}}|{{.Size}}|{{.Comment}}'
  $D history --format '{{.ID}}|{{.CreatedAt}}|{{.CreatedBy}}|{{.Size}}|{{.Comment}}' $H
  echo '$ history -H=false --format table {{.ID}}\t{{.CreatedSince}}\t{{.Size}}'
  $D history -H=false --format 'table {{.ID}}\t{{.CreatedSince}}\t{{.Size}}' $H
  echo '$ history -q --format {{.Size}}'; $D history -q --format '{{.Size}}' $H
  echo '$ history --format json -H=false'; $D history --format json -H=false $H
  echo '$ history nohist'; $D history $REG/hist/nohist:1
  echo '$ history four'; $D history -H=false $REG/hist/four:1
  echo '$ history missing'; $D history $REG/hist/nope:1 2>&1 || echo "exit $?"
} | redact > "$HERE/history.txt"

ID=$($D images -q $H)
{
  echo '$ tag (no output)'; $D tag $H $REG/hist/tagged; $D tag $ID $REG/hist/tagged:v2
  $D images --format '{{.Repository}}:{{.Tag}} {{.ID}}' | grep "$REG/hist/tagged" | sort
  echo '$ tag moves a tag'; $D tag $REG/hist/four:1 $REG/hist/tagged:v2
  $D images --format '{{.Repository}}:{{.Tag}} {{.ID}}' | grep "$REG/hist/tagged" | sort
  echo '$ tag errors'
  $D tag $REG/hist/nope:1 $REG/hist/x 2>&1 || echo "exit $?"
  $D tag $H $REG/hist/x@sha256:0000000000000000000000000000000000000000000000000000000000000000 2>&1 || echo "exit $?"
  $D tag $H sha256:abc 2>&1 || echo "exit $?"
  $D tag $H sha256 2>&1 || echo "exit $?"
  $D tag $H Hist/Upper 2>&1 || echo "exit $?"
  $D tag $H $REG/hist/x:bad@tag 2>&1 || echo "exit $?"
} | redact > "$HERE/tag.txt"
$D rmi $REG/hist/tagged $REG/hist/tagged:v2 >/dev/null

others=$($D images -q | sort -u | grep -vxF -f <(mine) || true)
if [ -z "$others" ]; then
  {
    echo '$ system df'; $D system df
    echo '$ system df -v'; $D system df -v
    echo '$ system df --format {{json .}}'; $D system df --format '{{json .}}'
    echo '$ system df --format table {{.Type}}\t{{.Size}}\t{{.Reclaimable}}'
    $D system df --format 'table {{.Type}}\t{{.Size}}\t{{.Reclaimable}}'
  } | redact > "$HERE/system-df.txt"
else
  echo "dockerd holds other images: system-df.txt not recorded" >&2
fi
{
  echo '$ info --format {{.IndexServerAddress}}'; $D info --format '{{.IndexServerAddress}}'
  echo '$ info --format {{json .RegistryConfig}}'; $D info --format '{{json .RegistryConfig}}'
  echo '$ info --format {{.Driver}} {{.OSType}} {{.Architecture}}'; $D info --format '{{.Driver}} {{.OSType}} {{.Architecture}}'
} | redact > "$HERE/info.txt"
cleanup
echo "recorded into $HERE"
