# Sourced by the record-*.sh scripts: the peer lab (../shared/lab: the registry on 127.0.0.1:5000,
# and dockerd unless NEED_DOCKERD=0), the fixture-layout binary, a work dir removed on exit, and
# helpers. D is the docker 28 CLI talking to the lab's dockerd.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../../../../.." && pwd)
LAB_SCRIPTS=${LAB_SCRIPTS:-$(cd "$REPO/../shared/lab" && pwd)}
export TZ=UTC
DOCKER=${DOCKER:-/usr/local/bin/docker}
D="$DOCKER -H unix:///var/tmp/lab/docker.sock"
REG=127.0.0.1:5000
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
"$LAB_SCRIPTS/registry-start.sh" >/dev/null
if [ "${NEED_DOCKERD:-1}" = 1 ]; then "$LAB_SCRIPTS/dockerd-start.sh" >/dev/null; fi
cargo build -q -p test-support --bin fixture-layout --manifest-path "$REPO/Cargo.toml"
FIX="$CARGO_TARGET_DIR/debug/fixture-layout"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
push() { # fixture repo:tag — an OCI fixture pushed with skopeo
  "$FIX" "$1" "$W/$1" t >/dev/null
  skopeo copy --quiet --insecure-policy --dest-tls-verify=false oci:"$W/$1":t docker://$REG/"$2"
}
redact() { sed -e "s#$REG#{REGISTRY}#g"; }
