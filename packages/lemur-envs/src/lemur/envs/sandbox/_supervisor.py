"""The in-sandbox supervisor of the ``local`` backend (runs inside the session's bubblewrap).

This file is executed as ``python3 -I -S -c <this source> <config json> <socket fd>`` by the
sandbox's own (system) Python, so it uses the standard library only and never imports
``lemur``. It owns the session's writable areas and starts every command in a nested
bubblewrap with its own PID namespace, so killing that bubblewrap kills the command's whole
process tree, daemonized children included, and nothing a command does can reach the
supervisor.

Protocol: one JSON object per ``SOCK_SEQPACKET`` message, file descriptors attached with
``SCM_RIGHTS``. Requests carry an ``id``; replies echo it.

- Unasked, the supervisor keeps ``POOL`` started **stubs** at the host: ``stub`` (field stub id;
  fds: the command's stdin, stdout, stderr, and a status pipe). The host writes the
  launch script to the stdin pipe (see ``STUB``) and reads the exit status from the status pipe.
- ``claim`` (fields stub, waited) -> nothing; the supervisor starts a replacement stub (two if
  the host had to wait for a ready one, up to ``POOL_MAX`` ready).
- ``kill`` (field target: a stub id) -> nothing; the command's tree is killed.
- Whenever a stub's bubblewrap ends: ``exit`` with fields stub and code.
- ``snapshot`` / ``reset`` -> ``done``; ``changes`` (fd: a pipe to write the JSON list to) -> ``done``.
"""

import errno
import itertools
import json
import os
import resource
import selectors
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time

MAX_MESSAGE = 1 << 20
MAX_FDS = 4
POOL = 4  # stubs kept ready at first
POOL_MAX = 8  # ... growing by 2 each time the host had to wait for one, up to this (4 host fds each)
MEMORY_POLL_SECONDS = 0.1
CLOCK_REALTIME_COARSE = 5  # Linux's clock id of the clock that file times (ctime) are taken from
# The stub's shell (PID 1 of its namespace) says ``r`` on fd 3 when ready, reads a line
# count, then that many lines of script, and evals them: the script runs the command as a
# child (fd 3 closed) and writes its exit status to fd 3. ``read`` takes one byte at a time
# from a pipe, so the command's standard input starts right after the script. When the shell
# exits, the kernel kills whatever the command left in the namespace; the status and the end
# of output arrive before that teardown, which takes milliseconds.
STUB = (
    "echo r >&3; IFS= read -r n || exit 125; s=; "
    'while [ "$n" -gt 0 ]; do IFS= read -r l; s="$s$l\n"; n=$((n - 1)); done; eval "$s"'
)


class Supervisor:
    """Serve requests from the host until the control socket closes."""

    def __init__(self, config, sock):
        self.config = config
        self.sock = sock
        self.children = {}  # stub id -> Popen of its nested bubblewrap (waiting at the host, or running)
        self.unclaimed = set()  # stub ids handed to the host and not yet used
        self.stub_ids = itertools.count(1)
        self.limit_hits = {}  # stub id -> the limit it was killed for
        self.memory_checked = 0.0
        self.pool = POOL
        self.rw_root = config["rw_root"]
        self.snap_root = config["snap_root"]
        # (sandbox path, directory holding its contents inside the supervisor's view)
        self.areas = [(area["path"], area["name"]) for area in config["areas"]]
        self.writable_root = any(path == "/" for path, _name in self.areas)
        self.root_binds = [tuple(bind) for bind in config["root_binds"]]
        self.clean = {}  # area name -> {relative path: (inode, ctime)} as of the last snapshot or restore
        self.snap_listings = {}  # snapshot directory -> its listing (a snapshot never changes)

    # -- lifecycle ---------------------------------------------------------------------------
    def serve(self):
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_write, False)
        signal.set_wakeup_fd(wake_write)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        selector = selectors.DefaultSelector()
        selector.register(self.sock, selectors.EVENT_READ, "sock")
        selector.register(wake_read, selectors.EVENT_READ, "wake")
        for name in ("work", "tmp"):
            os.makedirs(os.path.join(self.rw_root, name), exist_ok=True)
        if self.writable_root:
            root = os.path.join(self.rw_root, "root")
            copy_skeleton("/", root, os.lstat("/").st_dev)
            for path in self.config["root_copies"]:  # root's writable copy of /etc
                remove_tree(root + path)
                shutil.copytree(path, root + path, symlinks=True)
            for path in self.config["root_shallow"]:  # /usr: new entries writable, the host's bound read-only
                self.root_binds += copy_shallow(path, root + path)
            for path, mode in self.config["root_dirs"]:
                os.makedirs(os.path.join(root, path), exist_ok=True)
                os.chmod(os.path.join(root, path), mode)
            self.pinned = pinned_parents(self.config, root, self.root_binds)
        os.chmod(os.path.join(self.rw_root, "tmp"), 0o1777)
        self.send({"op": "ready"})
        self.top_up()
        while True:
            running = len(self.children) > len(self.unclaimed)
            for key, _ in selector.select(MEMORY_POLL_SECONDS if running else None):
                if key.data == "wake":
                    os.read(wake_read, 4096)
                    self.reap()
                elif not self.handle_message():
                    self.kill_all()
                    return
            if running:
                self.enforce_memory()

    def handle_message(self):
        try:
            data, fds, _flags, _addr = socket.recv_fds(self.sock, MAX_MESSAGE, MAX_FDS)
        except ConnectionResetError:
            return False
        if not data:
            return False
        request = json.loads(data)
        handler = getattr(self, "op_" + request["op"])
        try:
            handler(request, fds)
        except Exception as error:  # noqa: BLE001 - report to the host instead of dying
            self.send({"op": "error", "id": request.get("id"), "error": f"{type(error).__name__}: {error}"})
        finally:
            for fd in fds:
                try:
                    os.close(fd)
                except OSError:
                    pass
        return True

    def send(self, message):
        self.sock.send(json.dumps(message).encode())

    # -- commands ----------------------------------------------------------------------------
    def nested_argv(self, argv):
        args = [*self.config["bwrap"], "--unshare-user", "--unshare-pid", "--as-pid-1", "--die-with-parent"]
        # --disable-userns: commands cannot make namespaces of their own (less kernel surface).
        args += ["--new-session", "--disable-userns"]
        if self.config["as_root"] is not None:
            # uid 0 of the command's own user namespace (this supervisor's user outside it); its
            # capabilities end at that namespace, which owns no mount: --disable-userns nests it.
            args += ["--uid", "0", "--gid", "0"]
            for capability in self.config["as_root"]:
                args += ["--cap-add", capability]
        if self.writable_root:
            # "/" is the rw area's copy of the holder's root skeleton; the holder's mounts go on top.
            args += ["--bind", os.path.join(self.rw_root, "root"), "/"]
            # Parents of mount points become mount points too, so a command cannot move them
            # away and redirect where the next command's mounts land.
            for path in self.pinned:
                args += ["--bind", os.path.join(self.rw_root, "root") + path, path]
            for path, read_only in self.root_binds:
                args += ["--ro-bind" if read_only else "--bind", path, path]
        else:
            args += ["--ro-bind", "/", "/", "--tmpfs", "/.lemur"]
        for path, name in self.areas:
            if path != "/":
                args += ["--bind", os.path.join(self.rw_root, name), path]
        for path in self.config["writable_mounts"]:
            args += ["--bind", path, path]
        args += ["--proc", "/proc", "--dev", "/dev"]
        if self.config["as_root"] is not None and os.path.isdir("/proc/tty/driver"):
            # The host root's alone (mode 500): an empty directory instead, so root's `find /` does
            # not stop on it (a container's root reads it); as Docker masks parts of /proc.
            args += ["--tmpfs", "/proc/tty/driver"]
        args += ["--chdir", self.config["workdir"], "--"]
        return args + list(argv)

    def start_stub(self):
        """Start a nested sandbox whose shell waits for the command to run; keep it ready.

        Creating namespaces takes several milliseconds; doing it ahead of the request keeps
        that cost off each command's latency.
        """
        limits = self.config["limits"]

        def apply_limits():
            os.dup2(status_w, 3)
            cpu = limits["cpu_seconds"]
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
            resource.setrlimit(resource.RLIMIT_AS, (limits["memory_bytes"], limits["memory_bytes"]))
            resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_size_bytes"], limits["file_size_bytes"]))
            # bubblewrap's monitor and init count too.
            nproc = limits["processes"] + 2
            resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        status_r, status_w = os.pipe()
        try:
            child = subprocess.Popen(
                self.nested_argv(["/bin/sh", "-c", STUB]),
                stdin=in_r,
                stdout=out_w,
                stderr=err_w,
                env=self.config["env"],
                preexec_fn=apply_limits,
                pass_fds=(3,),
                close_fds=True,
            )
        except OSError:
            close_all((in_r, in_w, out_r, out_w, err_r, err_w, status_r, status_w))
            raise
        close_all((in_r, out_w, err_w, status_w))
        stub_id = next(self.stub_ids)
        self.children[stub_id] = child
        self.unclaimed.add(stub_id)
        message = {"op": "stub", "stub": stub_id}
        try:
            socket.send_fds(self.sock, [json.dumps(message).encode()], [in_w, out_r, err_r, status_r])
        finally:
            close_all((in_w, out_r, err_r, status_r))

    def top_up(self):
        """Keep ``self.pool`` started stubs at the host, so a command need not wait for namespaces."""
        while len(self.unclaimed) < self.pool:
            self.start_stub()

    def op_claim(self, request, _fds):
        self.unclaimed.discard(request["stub"])
        if request.get("waited"):
            self.pool = min(self.pool + 2, POOL_MAX)  # commands come faster than namespaces are made
        self.top_up()

    def op_kill(self, request, _fds):  # target: a stub id
        child = self.children.get(request["target"])
        if child is not None and child.returncode is None:
            child.kill()

    def reap(self):
        for spawn_id, child in list(self.children.items()):
            code = child.poll()
            if code is not None:
                del self.children[spawn_id]
                self.unclaimed.discard(spawn_id)
                message = {"op": "exit", "stub": spawn_id, "code": 128 - code if code < 0 else code}
                if spawn_id in self.limit_hits:
                    message["limit"] = self.limit_hits.pop(spawn_id)
                self.send(message)

    def enforce_memory(self):
        """Kill the largest running command while the sandbox's resident memory is over its limit.

        RLIMIT_AS bounds each process; this bounds their sum (what a fork-and-allocate attack
        grows), by polling /proc every ``MEMORY_POLL_SECONDS``.
        """
        now = time.monotonic()
        if now - self.memory_checked < MEMORY_POLL_SECONDS:
            return
        self.memory_checked = now
        parents, resident = read_process_table()
        owner = {child.pid: stub_id for stub_id, child in self.children.items() if stub_id not in self.unclaimed}
        usage = dict.fromkeys(owner.values(), 0)
        for pid, rss in resident.items():
            ancestor = pid
            while ancestor in parents and ancestor not in owner:
                ancestor = parents[ancestor]
            if ancestor in owner:
                usage[owner[ancestor]] += rss
        if usage and sum(usage.values()) > self.config["limits"]["memory_bytes"]:
            largest = max(usage, key=usage.get)
            self.limit_hits[largest] = "memory"
            self.children[largest].kill()

    def kill_all(self, keep_unclaimed=False):
        """Kill every stub (but those waiting at the host, if asked); wait for those that ran commands."""
        for spawn_id, child in self.children.items():
            if child.returncode is None and not (keep_unclaimed and spawn_id in self.unclaimed):
                child.kill()
        for spawn_id, child in list(self.children.items()):
            if keep_unclaimed and spawn_id in self.unclaimed:
                continue  # never ran anything; reaped later, on SIGCHLD
            code = child.wait()
            del self.children[spawn_id]
            self.send_quietly({"op": "exit", "stub": spawn_id, "code": 128 - code if code < 0 else code})
        if not keep_unclaimed:
            self.unclaimed.clear()

    def send_quietly(self, message):
        try:
            self.send(message)
        except OSError:
            pass

    # -- file system state -------------------------------------------------------------------
    def op_snapshot(self, request, _fds):
        self.clean, self.snap_listings = {}, {}
        for _path, name in self.areas:
            target = os.path.join(self.snap_root, name)
            if os.path.lexists(target):
                remove_tree(target)
            live = os.path.join(self.rw_root, name)
            shutil.copytree(live, target, symlinks=True)
            self.clean[name] = {}
            record_tree(live, "", self.clean[name])
        wait_past_recorded(self.clean)
        self.send({"op": "done", "id": request["id"]})

    def op_reset(self, request, _fds):
        # Stubs still waiting at the host never ran anything: they stay, bound to the same areas;
        # not with a writable root, whose mount points a restore may replace.
        self.kill_all(keep_unclaimed=not self.writable_root)
        for _path, name in self.areas:
            live, source = os.path.join(self.rw_root, name), os.path.join(self.snap_root, name)
            restore_tree(live, source, "", self.clean.setdefault(name, {}), self.snap_listings)
            shutil.copystat(source, live)
        wait_past_recorded(self.clean)
        # Answer first: new stubs (tens of ms of namespace set-up) are made while the caller
        # goes on, and a command that comes before one is ready waits for it as usual.
        self.send({"op": "done", "id": request["id"]})
        self.top_up()

    def op_changes(self, request, fds):
        changes = []
        for path, name in self.areas:
            diff_trees(os.path.join(self.snap_root, name), os.path.join(self.rw_root, name), path, changes)
        # Stable sort by path only: a path whose type changed stays "deleted" then "added".
        changes.sort(key=lambda change: change[0])
        with os.fdopen(os.dup(fds[0]), "w") as out:
            json.dump(changes, out)
        self.send({"op": "done", "id": request["id"]})


def read_process_table():
    """(pid -> parent pid, pid -> resident bytes) of every process this supervisor can see."""
    parents, resident = {}, {}
    page = os.sysconf("SC_PAGE_SIZE")
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as stat_file:
                fields = stat_file.read().rsplit(b")", 1)[1].split()
            with open(f"/proc/{name}/statm", "rb") as statm_file:
                pages = int(statm_file.read().split()[1])
        except (OSError, IndexError, ValueError):
            continue  # the process ended while we looked
        parents[int(name)] = int(fields[1])
        resident[int(name)] = pages * page
    return parents, resident


def close_all(fds):
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def pinned_parents(config, root, root_binds):
    """The directories above the mount points of a writable root (not ``/``), parents first."""
    targets = [path for path, _read_only in root_binds] + list(config["writable_mounts"])
    targets += [area["path"] for area in config["areas"] if area["path"] != "/"]
    parents = set()
    for target in targets:
        parent = os.path.dirname(target.rstrip("/"))
        while parent not in ("/", ""):
            parents.add(parent)
            parent = os.path.dirname(parent)
    pinned = sorted(parents, key=lambda path: (path.count("/"), path))
    return [path for path in pinned if os.path.isdir(root + path) and not os.path.islink(root + path)]


def copy_skeleton(source, target, device):
    """Copy the tree at ``source`` to ``target`` without file contents, not descending into mounts.

    The copy has the directories, symbolic links and (empty) files bubblewrap made on the
    holder's root, so every mount point of the holder exists under a writable ``/``.
    """
    os.makedirs(target, exist_ok=True)
    for entry in os.scandir(source):
        if entry.name == ".lemur" and source == "/":
            continue  # the supervisor's own areas stay out of the commands' view
        path = os.path.join(target, entry.name)
        if entry.is_symlink():
            os.symlink(os.readlink(entry.path), path)
        elif entry.is_dir(follow_symlinks=False):
            if entry.stat(follow_symlinks=False).st_dev == device:
                copy_skeleton(entry.path, path, device)
            else:
                os.mkdir(path)
        else:
            open(path, "wb").close()
    os.chmod(target, stat.S_IMODE(os.lstat(source).st_mode))


def copy_shallow(source, target):
    """Make ``target`` a directory with ``source``'s entries as mount points; return their read-only binds.

    Symbolic links are copied; directories and files become empty mount points of the same
    kind, which each command's bubblewrap binds over with the holder's (read-only) originals.
    """
    binds = []
    os.makedirs(target, exist_ok=True)
    for entry in sorted(os.scandir(source), key=lambda entry: entry.name):
        path = os.path.join(target, entry.name)
        if entry.is_symlink():
            os.symlink(os.readlink(entry.path), path)
            continue
        if entry.is_dir(follow_symlinks=False):
            os.mkdir(path)
        else:
            open(path, "wb").close()
        binds.append((entry.path, True))
    os.chmod(target, stat.S_IMODE(os.lstat(source).st_mode))
    return binds


def make_removable(path):
    """Give the owner full access to every directory below ``path`` (commands may chmod them away)."""
    os.chmod(path, 0o700 | stat.S_IMODE(os.lstat(path).st_mode))
    for root, dirs, _files in os.walk(path):
        for name in dirs:
            full = os.path.join(root, name)
            if not os.path.islink(full):
                os.chmod(full, 0o700 | stat.S_IMODE(os.lstat(full).st_mode))


def remove_tree(path):
    if os.path.isdir(path) and not os.path.islink(path):
        make_removable(path)
        shutil.rmtree(path)
    else:
        os.unlink(path)


def remove_settled(path):
    """Remove ``path`` if it exists, retrying for up to a second while something still creates entries in it.

    A killed stub's bubblewrap can go on making its mount points (in ``/usr`` of a writable
    root) for a moment after its monitor was reaped, so a removal can find a directory refilled.
    """
    for attempt in range(100):
        try:
            if os.path.lexists(path):
                remove_tree(path)
            return
        except OSError as error:
            if error.errno not in (errno.ENOTEMPTY, errno.ENOENT, errno.EEXIST) or attempt == 99:
                raise
            time.sleep(0.01)


def record_tree(path, prefix, clean):
    """Record ``(inode, ctime)`` of every entry below ``path`` in ``clean``, keyed by ``prefix`` + relative path.

    Every change to an entry (contents, mode, owner, times, links, a rename) moves its ctime to
    the present, and no unprivileged process can set it back, so an entry whose inode and ctime
    are as recorded is unchanged since.
    """
    for entry in os.scandir(path):
        st = entry.stat(follow_symlinks=False)
        key = prefix + entry.name
        clean[key] = (st.st_ino, st.st_ctime_ns)
        if stat.S_ISDIR(st.st_mode):
            record_tree(entry.path, key + "/", clean)


def wait_past_recorded(clean):
    """Return once the clock file times are taken from is past every recorded ctime.

    File times come from a coarse clock (a few ms per tick), so a command changing a file in
    the tick the restore wrote it would leave its ctime as recorded; after this wait any change
    gets a later ctime. It waits only when the restore itself wrote something in this tick.
    """
    newest = max((ctime for area in clean.values() for _inode, ctime in area.values()), default=0)
    while time.clock_gettime_ns(CLOCK_REALTIME_COARSE) <= newest:
        time.sleep(0.0005)


def listing(path):
    """``{name: lstat}`` of ``path``'s entries; an unlistable directory (a command chmodded it) is opened up first."""
    try:
        return {entry.name: entry.stat(follow_symlinks=False) for entry in os.scandir(path)}
    except PermissionError:
        os.chmod(path, 0o700 | stat.S_IMODE(os.lstat(path).st_mode))
        return {entry.name: entry.stat(follow_symlinks=False) for entry in os.scandir(path)}


def restore_tree(live, snap, prefix, clean, snap_listings):
    """Make the tree at ``live`` equal to ``snap`` again, rewriting only the entries that changed.

    ``clean`` holds each live entry's ``(inode, ctime)`` as of the last snapshot or restore (see
    :func:`record_tree`) and is brought up to date. A changed file is replaced by the snapshot's
    copy, an added entry removed, a deleted one copied back; a directory whose entries were
    added or removed gets the snapshot's mode and times back. Unchanged entries cost one
    ``lstat`` each, so restoring a large, barely touched tree (a writable root's ``/etc``) is
    fast. Returns whether ``live``'s own entries or mode were changed here (its times and mode
    then need the snapshot's again).
    """
    if snap not in snap_listings:
        snap_listings[snap] = listing(snap)
    mode = stat.S_IMODE(os.lstat(live).st_mode)
    rewritten = mode & 0o700 != 0o700  # opened up to edit it: its mode comes back from the snapshot
    if rewritten:
        os.chmod(live, mode | 0o700)
    snapped, current = snap_listings[snap], listing(live)
    for name in current.keys() - snapped.keys():
        remove_settled(os.path.join(live, name))
        rewritten = True
    for name, snap_stat in snapped.items():
        path, key, live_stat = os.path.join(live, name), prefix + name, current.get(name)
        unchanged = live_stat is not None and clean.get(key) == (live_stat.st_ino, live_stat.st_ctime_ns)
        if unchanged and not stat.S_ISDIR(live_stat.st_mode):
            continue
        if live_stat is not None and stat.S_ISDIR(live_stat.st_mode) and stat.S_ISDIR(snap_stat.st_mode):
            if restore_tree(path, os.path.join(snap, name), key + "/", clean, snap_listings) or not unchanged:
                shutil.copystat(os.path.join(snap, name), path, follow_symlinks=False)
                st = os.lstat(path)
                clean[key] = (st.st_ino, st.st_ctime_ns)
            continue
        if live_stat is not None:
            # a killed stub's bubblewrap may still make its mount points while it dies
            remove_settled(path)
        copy_entry(os.path.join(snap, name), path)
        st = os.lstat(path)
        clean[key] = (st.st_ino, st.st_ctime_ns)
        if stat.S_ISDIR(st.st_mode):
            record_tree(path, key + "/", clean)
        rewritten = True
    return rewritten


def copy_entry(source, target):
    if os.path.isdir(source) and not os.path.islink(source):
        # dirs_exist_ok: a killed stub's bubblewrap may still make its mount points while it dies
        shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)
    else:
        shutil.copy2(source, target, follow_symlinks=False)


def same_file(old, new, old_stat, new_stat):
    if stat.S_IFMT(old_stat.st_mode) != stat.S_IFMT(new_stat.st_mode):
        return False
    if stat.S_ISLNK(old_stat.st_mode):
        return os.readlink(old) == os.readlink(new)
    if stat.S_ISDIR(old_stat.st_mode):
        return True
    if old_stat.st_size != new_stat.st_size or stat.S_IMODE(old_stat.st_mode) != stat.S_IMODE(new_stat.st_mode):
        return False
    if old_stat.st_mtime_ns == new_stat.st_mtime_ns:
        return True
    try:
        with open(old, "rb") as a, open(new, "rb") as b:
            while True:
                chunk_a, chunk_b = a.read(1 << 16), b.read(1 << 16)
                if chunk_a != chunk_b:
                    return False
                if not chunk_a:
                    return True
    except OSError:
        return False


def list_dir(path):
    try:
        return {entry.name: entry.stat(follow_symlinks=False) for entry in os.scandir(path)}
    except (FileNotFoundError, NotADirectoryError):
        return {}
    except PermissionError:
        make_removable(path)
        return {entry.name: entry.stat(follow_symlinks=False) for entry in os.scandir(path)}


def diff_trees(old_root, new_root, shown_root, changes):
    """Append ``[path, kind]`` for every entry that differs between the two trees."""
    old_entries, new_entries = list_dir(old_root), list_dir(new_root)
    for name in sorted(old_entries.keys() | new_entries.keys()):
        old, new = os.path.join(old_root, name), os.path.join(new_root, name)
        shown = shown_root.rstrip("/") + "/" + name
        old_stat, new_stat = old_entries.get(name), new_entries.get(name)
        if new_stat is None:
            changes.append([shown, "deleted"])
            if stat.S_ISDIR(old_stat.st_mode):
                diff_trees(old, "/nonexistent/", shown, changes)
        elif old_stat is None:
            changes.append([shown, "added"])
            if stat.S_ISDIR(new_stat.st_mode):
                diff_trees("/nonexistent/", new, shown, changes)
        elif not same_file(old, new, old_stat, new_stat):
            if stat.S_IFMT(old_stat.st_mode) != stat.S_IFMT(new_stat.st_mode):
                changes.append([shown, "deleted"])
                if stat.S_ISDIR(old_stat.st_mode):
                    diff_trees(old, "/nonexistent/", shown, changes)
                changes.append([shown, "added"])
                if stat.S_ISDIR(new_stat.st_mode):
                    diff_trees("/nonexistent/", new, shown, changes)
            else:
                changes.append([shown, "modified"])
        elif stat.S_ISDIR(new_stat.st_mode):
            diff_trees(old, new, shown, changes)


def main():
    config = json.loads(sys.argv[1])
    sock = socket.socket(fileno=int(sys.argv[2]))
    Supervisor(config, sock).serve()


if __name__ == "__main__":
    main()
