# InterCode-Bash's image for the docker backend: the sandbox image plus the tools InterCode's
# nl2bash.Dockerfile installs (princeton-nlp/intercode@c3e46d8: bash python3 psmisc bsdmainutils
# cron imagemagick dnsutils git tree net-tools iputils-ping coreutils curl cpio jq), and mount,
# less and patch, which its Ubuntu image had (base system, git's recommendations).
#
# Nothing is pulled or downloaded here: build_image.sh --intercode-bash resolves those packages
# against this base image's dpkg database with the host's apt, downloads the .deb files into
# debs/ of the build context, and builds this file with BASE_IMAGE set to the local sandbox image.
# Tools InterCode's image lacked (md5deep, compress, wget, zip) stay missing, so commands that
# failed there fail here too.
ARG BASE_IMAGE=lemur/sandbox:bookworm
FROM ${BASE_IMAGE}

USER root
COPY debs/ /tmp/debs/
# A package that pre-depends on another one of the set (cron on cron-daemon-common) is refused
# in the first pass, which configures its dependency; the second pass installs it.
RUN set -eu; export DEBIAN_FRONTEND=noninteractive; \
    dpkg --install --skip-same-version /tmp/debs/*.deb >/tmp/dpkg.log 2>&1 || \
        dpkg --install --skip-same-version /tmp/debs/*.deb >/tmp/dpkg.log 2>&1 || \
        { grep -v -e update-alternatives -e '^Selecting' -e '^Preparing' -e '^Unpacking' -e '^Setting up' /tmp/dpkg.log | \
            tail -n 30; exit 1; }; \
    rm -rf /tmp/debs /tmp/dpkg.log /var/cache/debconf/*-old; \
    for tool in bash python3 killall cal column crontab convert dig git tree ifconfig ping curl cpio jq mount less patch; do \
        command -v "$tool" >/dev/null || { echo "missing after install: $tool" >&2; exit 1; }; \
    done

USER 1000:1000
WORKDIR /work
CMD ["sleep", "infinity"]
