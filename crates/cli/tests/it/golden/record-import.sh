#!/bin/bash
# Records the goldens of `import`, `export` and `commit` error cases from a real Docker (the
# docker 28 CLI against Debian's dockerd 20.10). Every case fails, so nothing is created in the
# shared dockerd. Each case: the command line, then stdout+stderr (the daemon's
# "Error response from daemon: " written as strata's "Error: "), then the exit status.
# Usage: crates/cli/tests/it/golden/record-import.sh
NEED_DOCKERD=1
. "$(dirname "$0")/lab.sh"
mkdir -p "$W/root/etc" && echo hello > "$W/root/etc/hi" && tar -C "$W/root" -cf "$W/a.tar" .
cd "$W"
OUT="$HERE/import-errors.txt"
: > "$OUT"
rec() { # args...
  echo "\$ $*" >> "$OUT"
  { set +e; $D "$@" 2>&1; echo "exit $?"; set -e; } | sed -e 's#^Error response from daemon: #Error: #' >> "$OUT"
}
rec import bogus.tar
rec import a.tar "BAD NAME"
rec import a.tar imp/x@sha256:da580beb33f0da60884aac52901fa865e4cb9acfc18bb06e7c4e1a2871f2f3b6
rec import -c "FOO bar" a.tar
rec import -c "RUN true" a.tar
rec import -c "ENV" a.tar
rec import -c "ENV A" a.tar
rec import -c "EXPOSE abc" a.tar
rec import -c "LABEL =x" a.tar
rec export imp-no-such-container
mkdir -p "$W/dir"
rec export -o nodir/out.tar imp-no-such-container
rec export -o a.tar/out.tar imp-no-such-container
rec export -o dir imp-no-such-container
rec container export imp-no-such-container
rec commit imp-no-such-container
rec container commit imp-no-such-container imp/x:1
echo "recorded into $OUT"
