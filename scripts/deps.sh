#!/bin/bash
# Installs the Debian packages strata's tests, demo and benchmarks use, if any is missing.
# Real components only: the CNCF registry, skopeo, an OCI runtime, busybox for a runnable sample image.
set -euo pipefail
PKGS=(docker-registry skopeo runc busybox-static apache2-utils openssl curl jq zstd)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install -y ${missing[*]})" >&2
    exit 1
  fi
  echo "installing: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2
  apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi
