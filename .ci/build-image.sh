#!/usr/bin/env bash
# build-image.sh - `make image`: build the Dockerfile and tag it (default
# umbra:latest) with Docker where an engine runs, else podman
# (.ci/container.sh), making the debian:bookworm-slim base if it is missing.
set -euo pipefail
. "$(dirname "$0")/container.sh"
tag=${1:-umbra:latest}
engine_init
build_image "$tag"
echo "built $tag with $ENGINE: $(ctr image inspect --format '{{.Size}}' "$tag" | awk '{printf "%.1f MB", $1 / 1e6}')"
