#!/bin/bash
# The test command: installs what the tests need, then runs every test of the workspace
# (unit tests and the integration tests that drive the real strata binary against real registries).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
cargo build --locked --workspace --all-targets
cargo test --locked --workspace -- --test-threads 4
