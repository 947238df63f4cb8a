#!/usr/bin/env bash
# Installs what is needed and runs `lucid-operator dev`: an embedded Kubernetes API server on
# 127.0.0.1 with the Lucid CRDs and the samples loaded, and the controllers running against it.
# It writes lucid-dev.kubeconfig and prints the kubectl lines to use. Extra arguments go to
# `lucid-operator dev` (see `--help`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash hack/install-deps.sh
swift build --product lucid-operator
exec .build/debug/lucid-operator dev --samples "$@"
