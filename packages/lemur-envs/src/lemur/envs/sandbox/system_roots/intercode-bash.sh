#!/usr/bin/env bash
# Build InterCode-Bash's system tree for the local sandbox backend (SandboxSpec.system_root):
# a Debian root file system (bullseye unless --suite) made offline from the Debian mirror with
# mmdebstrap (--variant=minbase), holding the packages InterCode's NL2Bash image installs
# (nl2bash.Dockerfile: `apt-get install bash python3 psmisc bsdmainutils cron imagemagick dnsutils
# git tree net-tools iputils-ping coreutils curl cpio jq` on ubuntu:latest), mapped to Debian names,
# and nothing it lacked (no xxd, g++, wget or sudo: its logs show "command not found" for them).
# The tree goes to $LEMUR_CACHE_DIR (default ~/.cache/lemur)/system-roots/intercode-bash-<key>,
# <key> the first 16 hex digits of this script's SHA-256 (the package list is in it), with
# -<suite> after it for a suite other than the default; it is built in a temporary directory
# beside it and renamed into place when complete.
set -euo pipefail

# Debian 11 (bullseye) is the closest to InterCode's ubuntu:latest (22.04): bash 5.1, coreutils
# 8.32, findutils 4.8, tar 1.34 (bookworm: bash 5.2, coreutils 9.1, findutils 4.9).
default_suite=bullseye
suite=$default_suite
# The sandbox's supervisor starts every command with the tree's bubblewrap and needs 0.8's
# --disable-userns; bullseye has 0.4. There it is bookworm's, with the loader and libraries it
# was built for, in a directory of its own (nothing else in the tree uses them), run as
# `DIR/ld.so --library-path DIR DIR/bwrap` (lemur.envs.sandbox._local_host.nested_bwrap).
bwrap_suite=bookworm
private_bwrap=usr/lib/lemur/bwrap
private_bwrap_libraries=(libc.so.6 libcap.so.2 libselinux.so.1 libpcre2-8.so.0)
# Ubuntu's apt installs recommends; of those only what the logs show or git/curl pull in are kept:
# less, patch (git), ca-certificates (curl), procps (`ps auxf` worked), mount (in the base image).
packages=(bash python3 psmisc bsdmainutils cron imagemagick bind9-dnsutils git tree net-tools iputils-ping
    coreutils curl cpio jq less patch ca-certificates procps mount)
# What Ubuntu's minimized image drops (its /etc/dpkg/dpkg.cfg.d/excludes): documentation but the
# copyright files and Debian changelogs (the logs show zgrep finding changelog.Debian.gz), man
# pages, translations, groff, info and lintian data.
dpkg_excludes=(path-exclude=/usr/share/doc/* path-include=/usr/share/doc/*/copyright
    path-include=/usr/share/doc/*/changelog.* path-exclude=/usr/share/man/* path-exclude=/usr/share/groff/*
    path-exclude=/usr/share/info/* path-exclude=/usr/share/lintian/* path-exclude=/usr/share/locale/*/LC_MESSAGES/*.mo)
# Ubuntu 22.04's base-files still installs /etc/networks (Debian 12's no longer does); a gold reads it.
networks=$'default\t\t0.0.0.0\nloopback\t127.0.0.0\nlink-local\t169.254.0.0\n'
# The host user a root-run sandbox uses (nobody); the tree is made its own, so that inside the
# sandbox, where that user is root, the system files are root's as in InterCode's image.
sandbox_uid=65534

script=$(readlink -f "${BASH_SOURCE[0]}")
key=$(sha256sum "$script" | cut -c1-16)
cache_dir=${LEMUR_CACHE_DIR:-$HOME/.cache/lemur}
force=0
print_path=0

usage() {
    cat <<USAGE
usage: ${LEMUR_BUILD_ROOT_NAME:-$0} [--cache-dir DIR] [--suite SUITE] [--force] [--print-path]
  --cache-dir DIR  Lemur's cache directory (default \$LEMUR_CACHE_DIR or ~/.cache/lemur)
  --suite SUITE    the Debian release (default $default_suite; another goes to <tree>-SUITE)
  --force          rebuild the tree even if it exists
  --print-path     print where the tree goes and exit
env: DEBIAN_MIRROR (default: this machine's apt mirror)
USAGE
}

while (($#)); do
    case "$1" in
    --cache-dir) cache_dir=$2; shift ;;
    --suite) suite=$2; shift ;;
    --force) force=1 ;;
    --print-path) print_path=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "error: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

target="$cache_dir/system-roots/intercode-bash-$key"
if [[ "$suite" != "$default_suite" ]]; then
    target+="-$suite"
fi
if ((print_path)); then
    echo "$target"
    exit 0
fi
log() { echo "build_intercode_rootfs: $*" >&2; }
if ((force == 0)) && [[ -d "$target" ]]; then
    log "exists: $target (--force rebuilds it)"
    exit 0
fi
if ! command -v mmdebstrap >/dev/null; then
    echo "error: mmdebstrap is not installed; run 'apt-get install mmdebstrap'" >&2
    exit 2
fi

source "$(dirname "$script")/../debian_mirror.sh"  # default_mirror
mirror=${DEBIAN_MIRROR:-$(default_mirror)}
mkdir -p "$cache_dir/system-roots"
work=$(mktemp -d "$cache_dir/system-roots/.build-XXXXXX")
trap 'chmod -R u+rwX "$work" 2>/dev/null; rm -rf "$work"' EXIT
began=$SECONDS
log "mmdebstrap $suite ($mirror): ${packages[*]}"
dpkg_options=(--dpkgopt=force-unsafe-io)
for option in "${dpkg_excludes[@]}"; do
    dpkg_options+=("--dpkgopt=$option")
done
suite_options=()
if [[ "$suite" == "$bwrap_suite" ]]; then
    packages+=(bubblewrap)
else
    # Merged /usr (/bin a link to usr/bin, ...), as ubuntu:22.04 and bookworm have; bullseye's
    # debootstrap merges too, mmdebstrap only with this hook of its own.
    suite_options+=(--setup-hook="${MMDEBSTRAP_HOOKS:-/usr/share/mmdebstrap/hooks}/merged-usr/setup00.sh")
fi
# A tar, so that a user without root (mmdebstrap's unshare mode) gets a tree of their own files.
mmdebstrap --quiet --variant=minbase --include="$(IFS=,; echo "${packages[*]}")" "${dpkg_options[@]}" "${suite_options[@]}" \
    --customize-hook='rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/*' \
    --customize-hook="printf '%s' '$networks' > \"\$1/etc/networks\"" \
    "$suite" "$work/rootfs.tar" "$mirror"
mkdir "$work/rootfs"
if ((EUID == 0)); then
    tar -C "$work/rootfs" --numeric-owner -xpf "$work/rootfs.tar"
else
    tar -C "$work/rootfs" --no-same-owner -xpf "$work/rootfs.tar" --exclude='./dev/*'
fi
rm "$work/rootfs.tar"
if [[ "$suite" != "$bwrap_suite" ]]; then
    log "mmdebstrap $bwrap_suite: bubblewrap for /$private_bwrap"
    mmdebstrap --quiet --variant=extract --include=bubblewrap "$bwrap_suite" "$work/bwrap.tar" "$mirror"
    mkdir "$work/bwrap"
    tar -C "$work/bwrap" --no-same-owner -xf "$work/bwrap.tar" --exclude='./dev/*'
    dir="$work/rootfs/$private_bwrap"
    mkdir -p "$dir"
    cp -L "$work/bwrap/usr/bin/bwrap" "$dir/bwrap"
    # The loader bwrap names (PT_INTERP; the one file under /lib64 or /lib named ld-linux*).
    loader=$(find "$work/bwrap/lib64/" "$work/bwrap/lib/" -maxdepth 1 -name 'ld-linux*.so.*' | head -n1)
    cp -L "$loader" "$dir/ld.so"
    for library in "${private_bwrap_libraries[@]}"; do
        cp -L "$(find "$work/bwrap/lib/" "$work/bwrap/usr/lib/" -mindepth 2 -maxdepth 2 -name "$library" | head -n1)" "$dir/"
    done
    chmod -R go-w "$work/rootfs/usr/lib/lemur"
    # It runs from there, or the build fails.
    "$dir/ld.so" --library-path "$dir" "$dir/bwrap" --version >/dev/null
fi
if ((EUID == 0)); then
    # chown clears set-user/group-id bits: note them first, then restore them.
    special=$(cd "$work/rootfs" && find . -perm /6000 ! -type l -printf '%m %p\n')
    chown -hR "$sandbox_uid:$sandbox_uid" "$work/rootfs"
    while read -r mode path; do
        [[ -n "$mode" ]] && chmod "$mode" "$work/rootfs/$path"
    done <<<"$special"
fi
chmod 755 "$work/rootfs"
if [[ -d "$target" ]]; then
    mv -T "$target" "$work/old"
fi
mv -T "$work/rootfs" "$target"
log "ready: $target ($(du -sh "$target" | cut -f1), $((SECONDS - began)) s)"
