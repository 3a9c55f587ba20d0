"""``lemur envs build-image``: build the docker backend's images on this machine, offline.

Runs the build script shipped beside the Dockerfile (``dockerfiles/build_image.sh``, also
reachable as ``tools/build_base_image.sh`` in a checkout): a Debian base from mmdebstrap or
debootstrap, loaded with ``docker import``, then the sandbox image built on it, and on request
InterCode-Bash's image (:data:`INTERCODE_BASH_IMAGE`) on the sandbox image.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from lemur.envs.sandbox.base import SandboxError

#: The build script inside the installed package.
BUILD_SCRIPT = Path(__file__).with_name("dockerfiles") / "build_image.sh"
#: InterCode-Bash's image for the docker backend: the sandbox image plus InterCode's tools
#: (``dockerfiles/intercode-bash.Dockerfile``).
INTERCODE_BASH_IMAGE = "lemur/intercode-bash:bookworm"


def build_image(
    force: bool = False, base: str | None = None, tag: str | None = None, intercode_bash: bool = False
) -> None:
    """Build ``lemur/base:bookworm`` (unless it exists or ``base`` is given) and the sandbox image.

    Args:
        force: Rebuild the Debian base even if it exists.
        base: Build the sandbox image on this image instead (e.g. ``debian:bookworm-slim``
            where a registry is reachable).
        tag: Tag of the sandbox image (default ``lemur/sandbox:bookworm``).
        intercode_bash: Also build :data:`INTERCODE_BASH_IMAGE` on the sandbox image (its
            packages are resolved and downloaded by this machine's apt, which must be Debian
            bookworm).

    Raises:
        SandboxUnavailableError: No Docker daemon answers (the message says how to start one).
        SandboxError: The docker CLI is missing, or the build failed.
    """
    from lemur.envs.sandbox.docker import docker_client

    docker_client()
    if shutil.which("docker") is None:
        raise SandboxError("the 'docker' command is not installed; install docker.io (Debian) or docker-ce")
    argv = ["bash", str(BUILD_SCRIPT)]
    if force:
        argv.append("--force")
    if base:
        argv += ["--base", base]
    if tag:
        argv += ["--tag", tag]
    if intercode_bash:
        argv.append("--intercode-bash")
    env = {**os.environ, "LEMUR_BUILD_IMAGE_NAME": "lemur envs build-image"}
    completed = subprocess.run(argv, env=env, check=False)
    if completed.returncode != 0:
        raise SandboxError(f"building the sandbox image failed (exit {completed.returncode}); see the output above")


def require_image(image: str) -> None:
    """Return if the Docker daemon has ``image``; name the build command when it is one of ours.

    Raises:
        SandboxUnavailableError: No daemon answers, or the image is missing.
    """
    import docker.errors

    from lemur.envs.sandbox.base import SandboxUnavailableError
    from lemur.envs.sandbox.docker import docker_client

    try:
        docker_client().images.get(image)
    except docker.errors.ImageNotFound as error:
        how = "lemur envs build-image --intercode-bash" if image == INTERCODE_BASH_IMAGE else "lemur envs build-image"
        raise SandboxUnavailableError(f"docker image {image!r} not found; build it with '{how}'") from error
