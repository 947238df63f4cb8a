# syntax=docker/dockerfile:1
# The Lucid operator image: lucid-operator (the controllers) and lucid-payout (what a payout Job
# runs), on a slim Debian with only the C libraries they link against. Build with hack/image.sh.
# hack/check-image.sh checks, without a container engine, that the binaries need nothing else.

# Build: the official Swift image on Debian 12, the same release as the toolchain the repository
# is tested with.
FROM swift:6.3.1-bookworm AS build
RUN export DEBIAN_FRONTEND=noninteractive \
 && apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends libcurl4-openssl-dev libyaml-dev libsecp256k1-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The build folder is a BuildKit cache: a rebuild after a source edit fetches and compiles only
# what changed.
RUN --mount=type=cache,target=/src/.build bash hack/build-release.sh /out

# Runtime: what the binaries load (hack/check-image.sh maps each library `ldd` lists to one of
# these packages or their dependencies), plus the CA bundle for TronGrid over HTTPS.
FROM debian:bookworm-slim
ARG RUNTIME_PACKAGES="libcurl4 libyaml-0-2 libsecp256k1-1 libstdc++6 ca-certificates"
RUN export DEBIAN_FRONTEND=noninteractive \
 && apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends ${RUNTIME_PACKAGES} \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/lucid-operator /out/lucid-payout /usr/local/bin/
# Non-root (the Deployment and payout Jobs also say so, with a read-only root file system).
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/lucid-operator"]
CMD ["run"]
