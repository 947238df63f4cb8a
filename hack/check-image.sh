#!/usr/bin/env bash
# Checks, without a container engine, that the image's binaries need nothing beyond the runtime
# packages the Dockerfile installs: builds them as the Dockerfile does (hack/build-release.sh),
# then maps every shared library `ldd` resolves to the Debian package that ships it (`dpkg -S`)
# and requires that package to be one of RUNTIME_PACKAGES or a dependency apt installs with them.
# No library may come from the Swift toolchain (the standard library is linked statically).
#   hack/check-image.sh [--no-build] [OUT_DIR]     default OUT_DIR: .build-image/out
# --no-build checks binaries already in OUT_DIR; DOCKERFILE names another Dockerfile to read.
set -euo pipefail
cd "$(dirname "$0")/.."
build=1
if [ "${1:-}" = "--no-build" ]; then build=0; shift; fi
out=${1:-.build-image/out}
dockerfile=${DOCKERFILE:-Dockerfile}

runtime=$(sed -n 's/^ARG RUNTIME_PACKAGES="\(.*\)"$/\1/p' "$dockerfile")
[ -n "$runtime" ] || { echo "check-image: no ARG RUNTIME_PACKAGES=\"...\" line in $dockerfile" >&2; exit 1; }

if [ $build -eq 1 ]; then bash hack/build-release.sh "$out" .build-image; fi

# What apt installs for RUNTIME_PACKAGES with --no-install-recommends: them and their Depends,
# recursively (libc6 and the rest of the base image's essentials among them).
read -r -a wanted <<<"$runtime"
allowed=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
            --no-replaces --no-enhances "${wanted[@]}" 2>/dev/null \
          | sed -n -e 's/^\([a-z0-9][a-z0-9.+-]*\)$/\1/p' -e 's/^ *\(Pre\)\{0,1\}Depends: \([a-z0-9][a-z0-9.+-]*\)$/\2/p' \
          | sed 's/:.*//' | sort -u)
for p in "${wanted[@]}"; do
  grep -qx "$p" <<<"$allowed" || { echo "check-image: $p is not a package apt knows" >&2; exit 1; }
done

declare -A owners
owner() {  # sets $package to the package that ships a file (merged-/usr paths tried too); cached
  local path=$1 real p
  package=${owners[$path]:-}
  [ -n "$package" ] && return 0
  real=$(readlink -f "$path")
  for p in "$path" "$real" "${path#/usr}" "/usr$path" "${real#/usr}" "/usr$real"; do
    package=$(dpkg -S "$p" 2>/dev/null | sed -n '1s/^\([^:,]*\)[:,].*/\1/p')
    if [ -n "$package" ]; then owners[$path]=$package; return 0; fi
  done
  return 1
}

status=0
for binary in "$out/lucid-operator" "$out/lucid-payout"; do
  name=$(basename "$binary")
  echo "$name ($(du -h "$binary" | cut -f1)):"
  libraries=$(ldd "$binary")
  if grep -q "not found" <<<"$libraries"; then
    echo "  missing: $(grep 'not found' <<<"$libraries" | tr -s ' \t' ' ')"; status=1
  fi
  while read -r soname path; do
    case "$path" in
      */lib/swift/*|*/usr/lib/swift*|*toolchain*) echo "  $soname: from the Swift toolchain ($path): the stdlib is not static"; status=1; continue ;;
    esac
    if ! owner "$path"; then
      echo "  $soname: $path belongs to no Debian package"; status=1; continue
    fi
    if grep -qx "$package" <<<"$allowed"; then
      echo "  $soname -> $package"
    else
      echo "  $soname -> $package: NOT installed by RUNTIME_PACKAGES ($runtime)"; status=1
    fi
  done < <(sed -n -e 's/^[[:space:]]*\([^[:space:]]*\) => \(\/[^[:space:]]*\) .*/\1 \2/p' \
                 -e 's/^[[:space:]]*\(\/[^[:space:]]*\) (0x.*/\1 \1/p' <<<"$libraries")  # and the dynamic loader
  if ! env -i "$binary" --help >/dev/null 2>&1; then echo "  $name --help fails"; status=1; fi
done
[ $status -eq 0 ] && echo "check-image: every library the binaries load comes from: $runtime"
exit $status
