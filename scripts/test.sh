#!/bin/bash
# The test command: installs what the tests need, then runs every test of the workspace
# (unit tests and the integration tests that drive the real strata binary against real registries),
# then the CLI's whole integration suite once more against strata's own registry
# (`strata registry serve` wherever a test asks for a plain registry, instead of Debian's docker-registry).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
cargo build --locked --workspace --all-targets
cargo test --locked --workspace -- --test-threads 4
TARGET=${CARGO_TARGET_DIR:-target}
STRATA_TEST_REGISTRY_BIN=$(realpath "$TARGET/debug/strata") \
  cargo test --locked -p strata --test it -- --test-threads 4
