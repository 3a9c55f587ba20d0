"""InterCode's view of a file system change: ``git status --short`` at ``/``, without git.

InterCode commits the whole task file system into a git repository at ``/`` when the image is
built (``docker.gitignore`` leaves out the system directories) and scores a file-system change
by parsing ``git status --short``. Running git over the sandbox root would pollute the file
system the agent sees, so this module reproduces what git reports from two manifests of the
writable roots (one taken right after setup, one now):

* a committed file whose content, executable bit or type changed: `` M`` (``T`` for a type change);
* a committed file that is gone: `` D``;
* untracked files, collapsed to the top-most directory that holds no committed file
  (``?? dir/``), as git shows them; empty directories are invisible, as in git;
* paths with a space, quote, backslash, control or non-ASCII character are C-quoted, as git's
  short format does, and then split on whitespace by InterCode's ``parse_status`` (which
  mis-pairs them; that quirk is part of the reward and is kept).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence

#: Names ``docker/docker.gitignore`` ignores (a pattern without a slash matches at any depth).
GIT_IGNORED = frozenset("bin boot dev etc home lib media opt proc root run sbin srv sys usr var .dockerenv".split())

#: Runs inside the sandbox (``python3 -I -S -c``): prints ``{path: [kind, digest]}`` for every
#: regular file and symlink under the roots given as a JSON list in ``argv[1]``, not entering the
#: directories listed in the optional ``argv[2]`` (absolute paths). ``kind`` is
#: ``f`` (file), ``x`` (executable file) or ``l`` (symlink); ``digest`` is the MD5 of the content
#: (of the link target for a symlink), or ``null`` when the file cannot be read.
MANIFEST_SCRIPT = r"""
import hashlib, json, os, stat, sys
out = {}
skip = set(json.loads(sys.argv[2])) if len(sys.argv) > 2 else set()
for root in json.loads(sys.argv[1]):
    for top, dirs, files in os.walk(root):
        dirs[:] = [name for name in dirs if os.path.join(top, name) not in skip]
        for name in dirs + files:
            path = os.path.join(top, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISLNK(st.st_mode):
                out[path] = ["l", hashlib.md5(os.readlink(path).encode("utf-8", "surrogateescape")).hexdigest()]
            elif stat.S_ISREG(st.st_mode):
                try:
                    with open(path, "rb") as handle:
                        digest = hashlib.md5(handle.read()).hexdigest()
                except OSError:
                    digest = None
                out[path] = ["x" if st.st_mode & 0o100 else "f", digest]
print(json.dumps(out))
"""

Manifest = Mapping[str, Sequence]


def manifest_command(roots: Iterable[str], skip: Iterable[str] = ()) -> list[str]:
    """The argv that prints the manifest of ``roots`` inside a sandbox (see :data:`MANIFEST_SCRIPT`).

    Args:
        roots: Absolute directories to list.
        skip: Absolute directory paths the listing does not enter (nor list).
    """
    return ["/usr/bin/python3", "-I", "-S", "-c", MANIFEST_SCRIPT, json.dumps(list(roots)), json.dumps(sorted(skip))]


def parse_manifest(stdout: str) -> dict[str, tuple[str, str | None]]:
    """The manifest printed by :func:`manifest_command`, as ``{absolute path: (kind, digest)}``."""
    return {path: (entry[0], entry[1]) for path, entry in json.loads(stdout).items()}


def _ignored(path: str) -> bool:
    return any(part in GIT_IGNORED for part in path.strip("/").split("/"))


def _quote(path: str) -> str:
    """Quote ``path`` as git's short status does (C-style, when it holds a special character)."""
    special = any(ch in ' "\\' or ord(ch) < 0x20 or ord(ch) >= 0x80 for ch in path)
    if not special:
        return path
    escaped = []
    for ch in path:
        if ch in '"\\':
            escaped.append("\\" + ch)
        elif ch == "\t":
            escaped.append("\\t")
        elif ch == "\n":
            escaped.append("\\n")
        elif ord(ch) < 0x20:
            escaped.append(f"\\{ord(ch):03o}")
        elif ord(ch) >= 0x80:
            escaped.extend(f"\\{byte:03o}" for byte in ch.encode("utf-8", "surrogateescape"))
        else:
            escaped.append(ch)
    return '"' + "".join(escaped) + '"'


def git_status_short(committed: Manifest, current: Manifest) -> str:
    """What ``git status --short`` at ``/`` prints, given the committed and the current manifests.

    Args:
        committed: The manifest right after setup (what InterCode's image commits).
        current: The manifest now.

    Returns:
        The status text: changed committed files first, then untracked entries, each sorted.
    """
    tracked = {path: entry for path, entry in committed.items() if not _ignored(path)}
    tracked_dirs = set()
    for path in tracked:
        parts = path.strip("/").split("/")
        for depth in range(1, len(parts)):
            tracked_dirs.add("/" + "/".join(parts[:depth]))
    lines = []
    for path in sorted(tracked):
        now = current.get(path)
        if now is None:
            lines.append(f" D {_quote(path[1:])}")
        elif tuple(now) != tuple(tracked[path]):
            typechange = (now[0] == "l") != (tracked[path][0] == "l")
            lines.append(f" {'T' if typechange else 'M'} {_quote(path[1:])}")
    untracked = set()
    for path in current:
        if path in tracked or _ignored(path):
            continue
        parts = path.strip("/").split("/")
        entry = path[1:]
        for depth in range(1, len(parts)):
            ancestor = "/" + "/".join(parts[:depth])
            if ancestor not in tracked_dirs:
                entry = ancestor[1:] + "/"
                break
        untracked.add(entry)
    lines += [f"?? {_quote(entry)}" for entry in sorted(untracked)]
    return "".join(line + "\n" for line in lines)


def parse_status(status: str) -> list[tuple[str, str]]:
    """InterCode's ``parse_status``: split on whitespace and pair tokens as ``(path, status)``.

    A path with whitespace breaks the pairing (as in InterCode); an odd token left over, where
    InterCode would raise ``IndexError``, is dropped.
    """
    tokens = status.split()
    return [(tokens[i + 1], tokens[i]) for i in range(0, len(tokens) - 1, 2)]
