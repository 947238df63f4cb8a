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

# nginx from Debian starts a system instance on install; the tests run their own on free ports.
if command -v systemctl >/dev/null 2>&1; then systemctl stop nginx >/dev/null 2>&1 || true; fi
pkill -x nginx >/dev/null 2>&1 || true

command -v kubectl >/dev/null || echo "install-deps: warning: kubectl is not on PATH (the machine image ships v1.32)" >&2
