# container.sh - sourced by the image scripts (bash): the engine that builds
# and runs images on this machine, and the debian:bookworm-slim base.
#
# A Docker engine where `docker info` answers. Otherwise podman from Debian,
# with what machines without a Docker engine need: runc instead of crun
# (crun cannot set RLIMIT_NPROC and refuses hybrid cgroups), cgroupfs, chroot
# isolation for builds, the docker image format (the OCI one drops
# HEALTHCHECK) and, to run, host networking (published ports do not reach the
# container there) with limits these machines accept.
#
#   engine_init            sets ENGINE (docker|podman) and CTR (the command with its
#                          global flags, an array), installing podman if needed
#   ctr ARGS...            runs "${CTR[@]}" ARGS...
#   ensure_base_image      makes debian:bookworm-slim with debootstrap if missing
#   build_image TAG        builds the repository's Dockerfile as TAG

CONTAINER_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BASE_IMAGE=debian:bookworm-slim

engine_init() {
    if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
        ENGINE=docker
        CTR=(docker)
    else
        ENGINE=podman
        sh "$CONTAINER_ROOT/.ci/install-deps.sh" podman runc
        CTR=(podman --runtime "$(command -v runc)" --cgroup-manager=cgroupfs)
    fi
}

ctr() {
    "${CTR[@]}" "$@"
}

# Flags for `ctr run` beside the caller's own.
ctr_run_flags() {
    if [ "$ENGINE" = podman ]; then
        printf '%s\n' --ulimit nofile=20000:20000 --ulimit nproc=4096:4096 --network host
    fi
}

# The mirror this machine's apt uses, read at run time (never written down).
apt_mirror() {
    local f
    for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
        [ -f "$f" ] || continue
        awk '/^URIs:/ {print $2; exit} /^deb / {print ($2 ~ /^\[/ ? $3 : $2); exit}' "$f"
        return
    done
    echo "no Debian mirror in this machine's apt sources" >&2
    return 1
}

# The official slim image's trimming (no documentation, manual pages or
# translations, now or in later installs; no package lists or downloaded
# packages), so that the image's size is close to what `docker build` gives
# elsewhere.
trim_rootfs() {
    local rootfs=$1
    # The machine's own sources (updates and security as well), if it has them.
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        cp /etc/apt/sources.list.d/debian.sources "$rootfs/etc/apt/sources.list.d/"
        rm -f "$rootfs/etc/apt/sources.list"
    fi
    cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker-slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
CFG
    cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'CFG'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CFG
    echo 'APT::Install-Recommends "false";' >"$rootfs/etc/apt/apt.conf.d/docker-no-recommends"
    find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
    rm -rf "$rootfs"/usr/share/{man,groff,info,lintian,linda,locale}/* \
        "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/var/log/*.log \
        "$rootfs"/tmp/*
}

# Where no registry is reachable, debian:bookworm-slim is made from Debian's
# packages with debootstrap.
make_base_image() {
    local rootfs mirror
    sh "$CONTAINER_ROOT/.ci/install-deps.sh" debootstrap
    mirror=$(apt_mirror) || return 1
    rootfs=$(mktemp -d /tmp/umbra-rootfs.XXXXXX)
    echo "making $BASE_IMAGE with debootstrap from $mirror"
    if ! debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1; then
        tail -20 "$rootfs.log" >&2
        rm -rf "$rootfs" "$rootfs.log"
        return 1
    fi
    # Called where a failure does not stop the script: the temporary root is
    # removed whatever happens.
    trim_rootfs "$rootfs" || true
    local rc=0
    tar -C "$rootfs" -c . | ctr import - "$BASE_IMAGE" >/dev/null || rc=1
    rm -rf "$rootfs" "$rootfs.log"
    return $rc
}

ensure_base_image() {
    ctr image inspect "$BASE_IMAGE" >/dev/null 2>&1 && return 0
    # A Docker engine usually reaches a registry; try that first.
    if [ "$ENGINE" = docker ] && timeout 120 docker pull "$BASE_IMAGE" >/dev/null 2>&1; then
        return 0
    fi
    make_base_image
}

build_image() {
    local tag=$1
    ensure_base_image
    if [ "$ENGINE" = docker ]; then
        docker build -t "$tag" "$CONTAINER_ROOT"
    else
        # --pull=never: the base is local, and no registry may answer.
        ctr build --isolation=chroot --format docker --pull=never -t "$tag" "$CONTAINER_ROOT"
    fi
}
