"""The local backend's reset rewrites only what changed, yet restores every kind of change exactly.

A reset compares each entry's inode and ctime with those recorded after the last restore. These
tests make changes that leave size, mode and mtime as they were (so only the ctime tells), and
changes of every other kind, and compare a full listing (type, mode, size, mtime, link target,
contents) of the tree before and after.
"""

from __future__ import annotations

import pytest

from lemur.envs.sandbox import SandboxSpec

SETUP = (
    "mkdir -p /testbed/a/b /testbed/locked /testbed/ro",
    "printf 'alpha\\n' > /testbed/a/one.txt",
    "printf 'bravo\\n' > /testbed/a/b/two.txt",
    "printf 'same1\\n' > /testbed/x.txt && printf 'same2\\n' > /testbed/y.txt",
    "touch -d '2001-02-03 04:05:06' /testbed/a/one.txt /testbed/x.txt /testbed/y.txt",
    "ln -s a/one.txt /testbed/link",
    "printf 'secret\\n' > /testbed/locked/inner.txt",
    "printf 'keep\\n' > /testbed/ro/file.txt && chmod 555 /testbed/ro",
)

# Python, run inside the sandbox: every entry below a directory with what a reset must restore.
LISTING = r"""
import hashlib, os, stat, sys
root = sys.argv[1]
for base, dirs, files in sorted(os.walk(root)):
    dirs.sort()
    for name in sorted(dirs + files):
        path = os.path.join(base, name)
        st = os.lstat(path)
        kind = stat.S_IFMT(st.st_mode)
        extra = os.readlink(path) if stat.S_ISLNK(st.st_mode) else ""
        if stat.S_ISREG(st.st_mode):
            extra = hashlib.sha256(open(path, "rb").read()).hexdigest()
        times = "" if stat.S_ISDIR(st.st_mode) else st.st_mtime_ns
        print(path, kind, oct(stat.S_IMODE(st.st_mode)), st.st_size, st.st_nlink, times, extra)
"""

CHANGES = {
    # contents changed, then size and mtime put back: only the ctime shows it (changes() cannot)
    "same size and mtime": "f=/testbed/a/one.txt; printf 'ALPHA\\n' > $f && touch -d '2001-02-03 04:05:06' $f",
    "swapped by rename": "mv /testbed/x.txt /tmp/t && mv /testbed/y.txt /testbed/x.txt && mv /tmp/t /testbed/y.txt",
    "hard link added": "ln /testbed/a/b/two.txt /testbed/a/hard.txt",
    "symlink retargeted": "ln -sfn a/b/two.txt /testbed/link",
    "directory locked": "chmod 000 /testbed/locked",
    "read-only directory emptied": "chmod 755 /testbed/ro && rm /testbed/ro/file.txt && chmod 555 /testbed/ro",
    "subtree removed": "rm -rf /testbed/a/b",
    "file became a directory": "rm /testbed/x.txt && mkdir /testbed/x.txt && echo n > /testbed/x.txt/n",
    "new entries of every kind": "mkfifo /testbed/a/fifo && mkdir -p /testbed/new/deep && echo z > /testbed/new/deep/z",
    "mode only": "chmod 600 /testbed/a/b/two.txt",
}


@pytest.mark.parametrize("writable_root", [False, True], ids=["workdir", "writable-root"])
def test_every_kind_of_change_is_restored_exactly(local_backend, writable_root) -> None:
    spec = SandboxSpec(workdir="/testbed", setup=SETUP, writable_root=writable_root)
    with local_backend.open(spec) as session:
        session.write_file("/tmp/listing.py", LISTING)
        snapshot = session.exec(["python3", "/tmp/listing.py", "/testbed"])
        assert snapshot.ok and "one.txt" in snapshot.stdout, snapshot
        for name, change in CHANGES.items():
            assert session.exec(change).ok, name
            assert session.exec(["python3", "/tmp/listing.py", "/testbed"]).stdout != snapshot.stdout, name
            session.reset()
            assert session.changes() == [], name
            session.write_file("/tmp/listing.py", LISTING)
            assert session.exec(["python3", "/tmp/listing.py", "/testbed"]).stdout == snapshot.stdout, name
