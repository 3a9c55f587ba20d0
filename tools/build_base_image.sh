#!/usr/bin/env bash
# Build the docker sandbox images offline (lemur/base:bookworm, then lemur/sandbox:bookworm; with
# --intercode-bash also lemur/intercode-bash:bookworm, InterCode-Bash's tools).
# The script ships inside lemur-envs (also run by `lemur envs build-image`); see its --help.
set -euo pipefail
exec bash "$(dirname "$0")/../packages/lemur-envs/src/lemur/envs/sandbox/dockerfiles/build_image.sh" "$@"
