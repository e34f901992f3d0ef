# megaplan-fleet as a container image: the release binary (Swift standard library and Foundation
# linked in) on a slim Debian with libssh2 and libcurl, run as a non-root user under tini.
#
#   docker build -t megaplan-fleet .                       # compiles in the Swift toolchain image
#
# Or, from a binary already built by scripts/build-release.sh on a Debian 12 machine (no Swift
# image needed; the context is a directory holding only that binary):
#
#   mkdir -p /tmp/ctx && cp "$(scripts/build-release.sh)" /tmp/ctx/
#   DOCKER_BUILDKIT=1 docker build -f Dockerfile --build-arg BINARY_STAGE=prebuilt -t megaplan-fleet /tmp/ctx
#
# Build arguments: SWIFT_IMAGE and RUNTIME_IMAGE pick the base images (a mirror, a pinned
# digest); RUNTIME_PACKAGES are installed with apt-get in the runtime stage (empty: the base
# image already has them); BINARY_STAGE is `build` (compile here) or `prebuilt` (copy the context's
# megaplan-fleet). With BuildKit only the stages the runtime needs are built.
ARG SWIFT_IMAGE=swift:6.3.1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim
ARG BINARY_STAGE=build

FROM ${SWIFT_IMAGE} AS build
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libssh2-1-dev libyaml-dev libssl-dev libcurl4-openssl-dev zlib1g-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN swift build -c release --static-swift-stdlib --product megaplan-fleet \
    && install -D -m 755 "$(swift build -c release --static-swift-stdlib --show-bin-path)/megaplan-fleet" \
        /out/megaplan-fleet

FROM scratch AS prebuilt
COPY megaplan-fleet /out/megaplan-fleet

FROM ${BINARY_STAGE} AS binary

FROM ${RUNTIME_IMAGE} AS runtime
# libssh2-1 brings libcrypto and zlib; libcurl4 (Foundation's URLSession sends the webhooks) and
# ca-certificates for HTTPS; tini as process 1, so SIGTERM reaches the tool and any child it
# starts is reaped.
ARG RUNTIME_PACKAGES="libssh2-1 libcurl4 ca-certificates tini"
RUN if [ -n "$RUNTIME_PACKAGES" ]; then \
        apt-get update \
        && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $RUNTIME_PACKAGES \
        && rm -rf /var/lib/apt/lists/*; \
    fi \
    && groupadd --gid 10001 megaplan \
    && useradd --uid 10001 --gid 10001 --home-dir /var/lib/megaplan-fleet --create-home --shell /usr/sbin/nologin megaplan \
    && chmod 700 /var/lib/megaplan-fleet
COPY --from=binary /out/megaplan-fleet /usr/local/bin/megaplan-fleet
# The Kubernetes example sets the same paths; a plain `docker run` mounts the fleet at
# /etc/megaplan-fleet and a volume at /var/lib/megaplan-fleet.
ENV MEGAPLAN_FLEET=/etc/megaplan-fleet/fleet.yaml \
    MEGAPLAN_FLEET_STATE_DIR=/var/lib/megaplan-fleet \
    HOME=/var/lib/megaplan-fleet \
    NO_COLOR=1
USER 10001:10001
WORKDIR /var/lib/megaplan-fleet
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/megaplan-fleet"]
CMD ["tick", "--all"]
