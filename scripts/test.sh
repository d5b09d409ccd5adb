#!/bin/bash
# The test command: installs what the tests need, then runs every test of the workspace
# (unit tests and the integration tests that drive the real strata binary against real registries),
# then the pull, manifest and fault suites once more against strata's own registry
# (`strata registry serve` instead of Debian's docker-registry).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
cargo build --locked --workspace --all-targets
cargo test --locked --workspace -- --test-threads 4
TARGET=${CARGO_TARGET_DIR:-target}
STRATA_TEST_REGISTRY_BIN=$(realpath "$TARGET/debug/strata") \
  cargo test --locked -p strata --test it -- --test-threads 4 pull:: manifest:: faults:: concurrency::
