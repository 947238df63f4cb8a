#!/usr/bin/env bash
# Installs the system packages the Lucid operator builds and tests against.
# Idempotent: packages already present are not fetched again, and `apt-get update`
# runs at most once per invocation (and not at all when nothing is missing).
set -euo pipefail

packages=(
  libcurl4-openssl-dev   # HTTP: libcurl multi interface
  libyaml-dev            # YAML: libyaml event API
  libsecp256k1-dev       # Tron: recoverable ECDSA signatures
  etcd-server            # registry tests run against a real etcd
  etcd-client            # etcdctl: tests cross-check the client with it; dev prints an etcdctl line
  nginx                  # a real TLS/mTLS front for HTTP tests
  openssl                # tests generate their own CA and certificates
  pkg-config             # SwiftPM resolves the system libraries with it
  python3-yaml           # PyYAML, the oracle for the YAML corpus test
  python3-venv           # the virtual environment of the Envoy check (below)
  python3-pip            # installs the official Kubernetes Python client (API server tests)
  lua5.4                 # runs the Argo CD health checks (manifests/argocd/health) in tests
  prometheus             # promtool: the alert rules (manifests/monitoring) tested over synthetic series
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "install-deps: installed ${missing[*]}"
fi

# The Envoy v3 check (hack/envoy-check.py): Envoy's API definitions (xds-protos, generated from
# envoyproxy/data-plane-api) and protobuf's json_format, in the repository's own .venv so the
# system Python stays untouched. Pinned, so every machine checks against the same definitions.
venv="$(cd "$(dirname "$0")/.." && pwd)/.venv"
if ! "$venv/bin/python3" -c 'import envoy.config.bootstrap.v3.bootstrap_pb2, validate.validate_pb2' >/dev/null 2>&1; then
  python3 -m venv "$venv"
  "$venv/bin/python3" -m pip install --quiet --disable-pip-version-check \
    'xds-protos==1.85.0' 'protobuf==7.36.2' 'grpcio==1.85.3'
  echo "install-deps: installed xds-protos in $venv"
fi

# The official Kubernetes Python client, used by a few API server tests.
if ! python3 -c "import kubernetes" >/dev/null 2>&1; then
  python3 -m pip install -q kubernetes >/dev/null 2>&1 || python3 -m pip install -q --break-system-packages kubernetes
  echo "install-deps: installed the kubernetes Python client"
fi

# nginx from Debian starts a system instance on install; the tests run their own on free ports.
# So does prometheus (only its promtool is used).
if command -v systemctl >/dev/null 2>&1; then systemctl stop nginx >/dev/null 2>&1 || true; systemctl stop prometheus >/dev/null 2>&1 || true; fi
pkill -x nginx >/dev/null 2>&1 || true

command -v kubectl >/dev/null || echo "install-deps: warning: kubectl is not on PATH (the machine image ships v1.32)" >&2
