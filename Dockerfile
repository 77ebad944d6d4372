# Umbra's image: umbrad, an AWS IoT Core compatible MQTT broker, and umbractl.
#
#   docker build -t umbra .
#   docker run -d --name umbra -p 8883:8883 -p 8443:8443 -v umbra-data:/var/lib/umbra umbra
#   docker exec umbra umbractl get-root-ca > ca.pem
#
# Settings: UMBRA_<KEY> environment variables (UMBRA_HOSTNAMES, UMBRA_REGION,
# UMBRA_LOG_LEVEL, ...), a mounted JSON file (`... umbra -c /etc/umbra/umbra.json`)
# or flags after the image name; docs/operations.md, "Docker".

# The build stage: Debian's -dev packages, as the Makefile's DEB_BUILD lists them.
FROM debian:bookworm-slim AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
       gcc libc6-dev make pkg-config binutils \
       libuv1-dev libjansson-dev libsqlite3-dev libmbedtls-dev libhttp-parser-dev \
       libcurl4-openssl-dev libpq-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The debug information -g puts in is most of the binaries' size; the image
# ships the code alone.
RUN make -j"$(nproc)" all \
    && strip build/release/umbrad build/release/umbractl

# The runtime stage: the shared libraries those packages link, and nothing to
# build or test with.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
       libuv1 libjansson4 libsqlite3-0 libmbedtls14 libmbedx509-1 libmbedcrypto7 \
       libhttp-parser2.9 libcurl4 libpq5 ca-certificates \
    && rm -rf /var/lib/apt/lists/*
# A fixed uid, so a bind-mounted data directory can be given to it
# (chown 10001 DIR). The data directory is made here, owned by umbra, so a new
# named volume starts with that owner.
RUN groupadd --gid 10001 umbra \
    && useradd --uid 10001 --gid umbra --create-home --home-dir /home/umbra \
       --shell /usr/sbin/nologin umbra \
    && install -d -o umbra -g umbra -m 0700 /var/lib/umbra
COPY --from=build /src/build/release/umbrad /src/build/release/umbractl /usr/local/bin/

# umbrad and `docker exec ... umbractl` both find the data here.
ENV UMBRA_DATA_DIR=/var/lib/umbra
VOLUME /var/lib/umbra
USER umbra
# umbractl's relative --*-outfile paths land in umbra's home, not in / (not
# writable) and not in the data volume (device keys are not the broker's).
WORKDIR /home/umbra
# MQTT over TLS with client certificates, and the HTTPS data plane: both on
# 0.0.0.0 by default, as AWS IoT's device gateway.
EXPOSE 8883 8443
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["umbractl", "health"]
# umbrad stops cleanly on SIGTERM (docker stop) and exits 0.
ENTRYPOINT ["umbrad"]
CMD []
