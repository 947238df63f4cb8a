#!/usr/bin/env bash
# Builds the release binaries the image ships, the one way: the Dockerfile runs this script, and
# hack/check-image.sh runs it too before checking what the binaries link against.
#   hack/build-release.sh OUT_DIR [SCRATCH_PATH]
# The Swift standard library and Foundation are linked statically, so the runtime image needs
# no Swift toolchain: only the C libraries the Dockerfile's RUNTIME_PACKAGES install.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: hack/build-release.sh OUT_DIR [SCRATCH_PATH]}
scratch=${2:-.build}
flags=(-c release --static-swift-stdlib --scratch-path "$scratch")
for product in lucid-operator lucid-payout; do
  swift build "${flags[@]}" --product "$product"
done
bin=$(swift build "${flags[@]}" --show-bin-path)
mkdir -p "$out"
for product in lucid-operator lucid-payout; do
  install -m 0755 "$bin/$product" "$out/$product"
  strip "$out/$product"
done
