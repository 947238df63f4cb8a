#!/usr/bin/env bash
# Builds the operator image (Dockerfile) with the first container engine that works here:
# docker (with a reachable daemon), podman, or buildah.
#   hack/image.sh [TAG]        default TAG: $IMAGE, else lucid-operator:dev
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:-${IMAGE:-lucid-operator:dev}}
if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  exec docker build --tag "$tag" .
elif command -v podman >/dev/null 2>&1; then
  exec podman build --tag "$tag" .
elif command -v buildah >/dev/null 2>&1; then
  exec buildah build --tag "$tag" .
fi
reason="no container engine found (docker with a running daemon, podman or buildah)"
if command -v docker >/dev/null 2>&1; then reason="docker is installed but its daemon is not reachable, and neither podman nor buildah is installed"; fi
echo "image.sh: cannot build $tag: $reason." >&2
echo "image.sh: hack/check-image.sh checks the release binaries against the image's runtime packages without an engine." >&2
exit 2
