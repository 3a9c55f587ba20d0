#!/usr/bin/env bash
# Build the docker sandbox backend's images without a registry:
#   1. lemur/base:bookworm   a minimal Debian bookworm root file system (mmdebstrap, or
#                            debootstrap when mmdebstrap is missing) loaded with `docker import`;
#                            skipped when the image already exists (unless --force);
#   2. lemur/sandbox:bookworm the project's Dockerfile built on top of it
#                            (--build-arg BASE_IMAGE=lemur/base:bookworm);
#   3. with --intercode-bash, lemur/intercode-bash:bookworm: intercode-bash.Dockerfile on the
#                            sandbox image, with InterCode's tools from .deb files that this
#                            machine's apt resolves against the sandbox image's dpkg database
#                            and downloads (Debian mirror only; no registry).
# With a registry, skip step 1: `--base debian:bookworm-slim` builds the sandbox image on a stock image.
# Needs root (for the bootstrap) and a reachable Docker daemon ($DOCKER_HOST is honoured).
set -euo pipefail

base_tag=${LEMUR_BASE_IMAGE:-lemur/base:bookworm}
sandbox_tag=${LEMUR_SANDBOX_IMAGE:-lemur/sandbox:bookworm}
intercode_bash_tag=${LEMUR_INTERCODE_BASH_IMAGE:-lemur/intercode-bash:bookworm}
intercode_bash=0
suite=bookworm
force=0
stock_base=""
dockerfiles=$(cd "$(dirname "$0")" && pwd)

usage() {
    cat <<EOF
usage: ${LEMUR_BUILD_IMAGE_NAME:-$0} [--force] [--base IMAGE] [--tag TAG] [--intercode-bash]
  --force           rebuild $base_tag even if it exists
  --base IMAGE      build the sandbox image on IMAGE (e.g. debian:bookworm-slim from a registry)
                    instead of bootstrapping $base_tag
  --tag TAG         tag of the sandbox image (default $sandbox_tag)
  --intercode-bash  also build $intercode_bash_tag (InterCode-Bash's tools; needs this
                    machine's apt to be Debian $suite and to reach its mirror)
env: DEBIAN_MIRROR (default: this machine's apt mirror), LEMUR_BASE_IMAGE, LEMUR_SANDBOX_IMAGE,
     LEMUR_INTERCODE_BASH_IMAGE, DOCKER_HOST
EOF
}

while (($#)); do
    case "$1" in
    --force) force=1 ;;
    --base) stock_base=$2; shift ;;
    --tag) sandbox_tag=$2; shift ;;
    --intercode-bash) intercode_bash=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "error: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

log() { echo "build_base_image: $*" >&2; }

if ! docker info >/dev/null 2>&1; then
    echo "error: no Docker daemon answers${DOCKER_HOST:+ at DOCKER_HOST=$DOCKER_HOST}; start one" \
        "('sudo dockerd &' or 'sudo systemctl start docker') or point DOCKER_HOST at a remote engine" >&2
    exit 2
fi

source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../debian_mirror.sh"  # default_mirror
bootstrap_base() {
    local mirror work
    mirror=${DEBIAN_MIRROR:-$(default_mirror)}
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    # Documentation, man pages and translations are dropped: a smaller tar imports faster.
    if command -v mmdebstrap >/dev/null; then
        log "mmdebstrap $suite from $mirror (about 40 s)"
        mmdebstrap --quiet --variant=essential --include=python3,procps,passwd \
            --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
            --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt=force-unsafe-io \
            "$suite" "$work/rootfs.tar" "$mirror"
    elif command -v debootstrap >/dev/null; then
        log "debootstrap $suite from $mirror (about 90 s; install mmdebstrap for a faster build)"
        debootstrap --variant=minbase --include=python3,procps "$suite" "$work/rootfs" "$mirror" >"$work/log" 2>&1 ||
            { tail -n 20 "$work/log" >&2; exit 1; }
        rm -rf "$work"/rootfs/var/cache/apt/archives/*.deb "$work"/rootfs/var/lib/apt/lists/* \
            "$work"/rootfs/usr/share/{doc,man,locale}
        tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
    else
        echo "error: neither mmdebstrap nor debootstrap is installed; run 'apt-get install mmdebstrap'," \
            "or use --base debian:bookworm-slim where a registry is reachable" >&2
        exit 2
    fi
    log "docker import -> $base_tag"
    docker import --change 'CMD ["/bin/bash"]' \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        "$work/rootfs.tar" "$base_tag" >/dev/null
    rm -rf "$work"
    trap - EXIT
}

if [[ -n "$stock_base" ]]; then
    base=$stock_base
else
    base=$base_tag
    if ((force == 0)) && docker image inspect "$base_tag" >/dev/null 2>&1; then
        log "$base_tag exists; skipping the bootstrap (--force rebuilds it)"
    else
        if ((EUID != 0)); then
            echo "error: bootstrapping $base_tag needs root (run with sudo), or pass --base IMAGE" >&2
            exit 2
        fi
        bootstrap_base
    fi
fi

log "docker build $sandbox_tag (BASE_IMAGE=$base)"
# The legacy builder uses local images as they are; it never tries a registry for the base.
DOCKER_BUILDKIT=0 docker build --quiet --build-arg "BASE_IMAGE=$base" -t "$sandbox_tag" "$dockerfiles" >/dev/null 2> >(grep -v -e DEPRECATED -e 'legacy builder' -e BuildKit -e 'environment-variable' -e '^ *$' >&2)
log "ready: $sandbox_tag"

# InterCode's nl2bash.Dockerfile packages, and mount, less and patch, which its Ubuntu image had.
intercode_packages=(bash python3 psmisc bsdmainutils cron imagemagick dnsutils git tree net-tools iputils-ping
    coreutils curl cpio jq mount less patch)

build_intercode_bash() {
    local context container codename
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    if [[ "$codename" != "$suite" ]] || ! command -v apt-get >/dev/null; then
        echo "error: --intercode-bash resolves packages with this machine's apt, which must be Debian $suite" \
            "(this is '${codename:-unknown}')" >&2
        exit 2
    fi
    context=$(mktemp -d)
    # The path is expanded now: the trap may fire after this function (and its locals) are gone.
    # shellcheck disable=SC2064
    trap "rm -rf -- $(printf %q "$context")" EXIT
    mkdir -p "$context/debs/partial"
    container=$(docker create "$sandbox_tag")
    docker cp "$container:/var/lib/dpkg/status" "$context/status" >/dev/null
    docker rm "$container" >/dev/null
    log "apt: resolving InterCode's tools against $sandbox_tag and downloading them"
    # The image's dpkg database stands in for this machine's, so exactly what it lacks is fetched.
    apt-get -q -y -o Dir::State::status="$context/status" -o Dir::Cache::archives="$context/debs" \
        -o Debug::NoLocking=1 -o APT::Install-Recommends=false --download-only install "${intercode_packages[@]}" \
        >"$context/apt.log" 2>&1 || {
        tail -n 20 "$context/apt.log" >&2
        echo "error: apt could not fetch the packages; run 'apt-get update' (as root) and retry" >&2
        exit 1
    }
    rm -rf "$context/debs/partial" "$context/status" "$context/apt.log"
    cp "$dockerfiles/intercode-bash.Dockerfile" "$context/Dockerfile"
    log "docker build $intercode_bash_tag (BASE_IMAGE=$sandbox_tag, $(find "$context/debs" -name '*.deb' | wc -l) packages)"
    DOCKER_BUILDKIT=0 docker build --quiet --build-arg "BASE_IMAGE=$sandbox_tag" -t "$intercode_bash_tag" "$context" \
        >/dev/null 2> >(grep -v -e DEPRECATED -e 'legacy builder' -e BuildKit -e 'environment-variable' -e '^ *$' >&2)
    rm -rf "$context"
    trap - EXIT
    log "ready: $intercode_bash_tag"
}

if ((intercode_bash)); then
    build_intercode_bash
fi
