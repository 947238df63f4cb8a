#!/usr/bin/env bash
# Installs what the tests need, builds everything (failing on any compiler warning in this
# repository's own code), and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

bash hack/install-deps.sh

log=$(mktemp)
trap 'rm -f "$log"' EXIT
swift build --build-tests 2>&1 | tee "$log"
if grep -E "^$(pwd)/(Sources|Tests)/.*: warning:" "$log"; then
  echo "test.sh: the build has warnings in this repository's code (above); fix them" >&2
  exit 1
fi
# The image's release binaries (DeployTests checks them with hack/check-image.sh), built before
# the tests so that the release build does not compete with them for the CPU.
bash hack/build-release.sh .build-image/out .build-image
export LUCID_IMAGE_BINARIES_BUILT=1
# Everything but the latency-bound suites, in parallel; then those alone and serially, so a
# loaded machine cannot make a one-second bound fail.
swift test --skip-build --skip TimingTests
swift test --skip-build --no-parallel --filter TimingTests
