#!/usr/bin/env bash
# Build InterCode-Bash's system tree for the local sandbox backend (SandboxSpec.system_root) offline
# from the Debian mirror into Lemur's cache dir. The script ships inside lemur-envs (also run by
# `lemur envs build-root intercode-bash`); see its --help.
set -euo pipefail
exec bash "$(dirname "$0")/../packages/lemur-envs/src/lemur/envs/sandbox/system_roots/intercode-bash.sh" "$@"
