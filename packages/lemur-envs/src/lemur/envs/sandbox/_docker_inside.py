"""Programs the ``docker`` backend runs inside its containers (standard library only).

The backend sends this file's source as ``python3 -I -S -c <source> <mode> <json>``, so it
works in any image that has a ``python3`` (3.7 or newer) and never imports ``lemur``. Modes:

- ``init``: the container's PID 1. It reaps orphans (a fork bomb's zombies would otherwise
  fill the process limit) and, being PID 1 of the container's PID namespace, cannot be
  killed from inside, so ``kill(-1, SIGKILL)`` empties the container without stopping it.
- ``run``: runs one command in its own session under the per-process limits, kills it at
  the timeout, then kills every process left except the protected interactive sessions
  (so daemonized children never outlive their command), and ends its standard error with
  ``<nonce><json status>`` (exit code, timed out, limit) for the host.
- ``serve``: the same as ``run`` for a stream of commands sent as frames on stdin, so a
  command costs a fork instead of a ``docker exec``; output is capped before it is sent. It
  also does ``restore``, ``manifest``, ``kill_tree`` and file ``read``/``write`` on request.
- ``spawn``: prints its PID, applies the limits and becomes an interactive interpreter.
- ``sweep``: kills every process but PID 1, itself and the protected trees.
- ``kill_tree``: kills one interpreter with its session and descendants.
- ``manifest``: prints a JSON list describing every entry under the writable areas.
- ``restore``: kills everything, empties the writable areas, and unpacks a tar from stdin.

It is longer than the house limit of about 400 lines on purpose: the container receives it as
one ``-c`` string, so it cannot be split into modules there.
"""

import json
import os
import resource
import select
import signal
import stat
import sys
import time

COUNTER_FILES = {
    "oom": (("/sys/fs/cgroup/memory.events", "oom_kill"), ("/sys/fs/cgroup/memory/memory.oom_control", "oom_kill")),
    "pids": (("/sys/fs/cgroup/pids.events", "max"), ("/sys/fs/cgroup/pids/pids.events", "max")),
}
#: A writable area with less free space than this after a failed command counts as full (bytes).
FULL_BELOW = 64 * 1024


def init(_config):
    """Reap children forever; exit on SIGTERM or SIGINT (``docker stop``)."""
    wanted = {signal.SIGCHLD, signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, wanted)
    while True:
        while True:
            try:
                pid, _status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
        if signal.sigwaitinfo(wanted).si_signo != signal.SIGCHLD:
            return 0


def apply_limits(limits):
    """Set the per-process resource limits (``{"RLIMIT_CPU": [soft, hard], ...}``)."""
    for name, (soft, hard) in limits.items():
        try:
            resource.setrlimit(getattr(resource, name), (soft, hard))
        except (ValueError, OSError):
            resource.setrlimit(getattr(resource, name), (min(soft, hard), hard))


def read_counters():
    """The cgroup's OOM-kill and pids-limit-hit counters (absent files count as 0)."""
    counters = {}
    for name, candidates in COUNTER_FILES.items():
        counters[name] = 0
        for path, key in candidates:
            try:
                with open(path) as handle:
                    for line in handle:
                        parts = line.split()
                        if len(parts) == 2 and parts[0] == key:
                            counters[name] = int(parts[1])
                break
            except OSError:
                continue
    return counters


def process_table():
    """``{pid: (ppid, sid, state)}`` of every process visible in ``/proc``."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/" + entry + "/stat") as handle:
                data = handle.read()
        except OSError:
            continue
        fields = data[data.rindex(")") + 2 :].split()
        table[int(entry)] = (int(fields[1]), int(fields[3]), fields[0])
    return table


def tree(table, roots):
    """The live ``roots``, every process in their sessions, and all their descendants."""
    members = {pid for pid in roots if pid in table}
    members |= {pid for pid, (_ppid, sid, _state) in table.items() if sid in members}
    changed = True
    while changed:
        changed = False
        for pid, (ppid, _sid, _state) in table.items():
            if pid not in members and ppid in members:
                members.add(pid)
                changed = True
    return members


def kill_rounds(pick):
    """Kill the live processes ``pick(table)`` names until none is left; return the rounds taken."""
    for rounds in range(1, 200):
        table = process_table()
        victims = [pid for pid in pick(table) if pid in table and table[pid][2] != "Z"]
        victims = [pid for pid in victims if pid not in (1, os.getpid())]
        if not victims:
            return rounds
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.002 * rounds)
    return rounds


def sweep(config):
    """Kill every process but PID 1, this one, and the trees of the protected interpreters."""
    protect = config.get("protect") or []
    if not protect:
        # One kill(-1) reaches every process at once, so a fork bomb cannot outrun it.
        for _ in range(3):
            try:
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                break
    kill_rounds(lambda table: set(table) - tree(table, protect))


def kill_tree(config):
    """Kill the interpreters ``config["roots"]`` with their sessions and descendants."""
    kill_rounds(lambda table: tree(table, config["roots"]))


def wait_until(pid, deadline):
    """Wait for child ``pid`` until ``deadline`` (monotonic seconds); return its status or None."""
    pidfd = None
    if hasattr(os, "pidfd_open"):
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            pidfd = None
    delay = 0.001
    try:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return status
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            if pidfd is not None:
                select.select([pidfd], [], [], remaining)
            else:
                time.sleep(min(delay, remaining))
                delay = min(delay * 2, 0.05)
    finally:
        if pidfd is not None:
            os.close(pidfd)


def exit_code_of(status):
    """The shell's view of a wait status: the exit code, or 128 + signal."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def area_full(areas):
    """Whether any writable area has (almost) no free space left."""
    for area in areas:
        try:
            info = os.statvfs(area)
        except OSError:
            continue
        if info.f_bavail * info.f_frsize < FULL_BELOW:
            return True
    return False


def start_child(config):
    """Fork the command (sharing this process's stdio) in its own session; return its pid."""
    pid = os.fork()
    if pid == 0:
        start_child_here(config)
    return pid


def run(config):
    """Run one command to completion or timeout, clean up, and report its status on stderr."""
    before = read_counters()
    began = time.monotonic()
    pid = start_child(config)
    status = wait_until(pid, began + config["timeout"])
    timed_out = status is None
    if timed_out:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
        status = wait_until(pid, time.monotonic() + 5.0)
    exit_code = 137 if status is None else exit_code_of(status)
    sweep(config)
    report = classify(config, before, exit_code, timed_out)
    os.write(2, (config["nonce"] + json.dumps(report) + "\n").encode())
    return 0


def read_exactly(fd, size):
    """Read ``size`` bytes from ``fd``; None at end of file."""
    data = bytearray()
    while len(data) < size:
        chunk = os.read(fd, size - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def send(kind, data=b""):
    """Write one frame to stdout: a kind byte, a 4-byte big-endian length, the data."""
    view = memoryview(kind + len(data).to_bytes(4, "big") + data)
    while view:
        view = view[os.write(1, view) :]


def serve(_config):
    """Run commands sent as frames on stdin, one at a time, until stdin closes.

    Requests: ``R`` (JSON config, as for ``run`` plus ``output_limit`` and ``flood_at``) then ``I``
    (the command's stdin). Replies: ``A`` (started), ``O``/``E`` (stdout/stderr, at most
    ``output_limit`` bytes each), ``D`` (JSON status with the byte totals). Exits at once
    (status 3) where ``os.pidfd_open`` is missing, so the host falls back to ``run``.
    """
    if not hasattr(os, "pidfd_open"):
        return 3
    make_undumpable()
    feeder = StdinFeeder()
    while True:
        frames = []
        for _ in range(2):
            header = read_exactly(0, 5)
            if header is None:
                return 0
            payload = read_exactly(0, int.from_bytes(header[1:5], "big"))
            if payload is None:
                return 0
            frames.append(payload)
        config = json.loads(frames[0])
        SERVED_OPS[config.get("op", "run")](config, frames[1], feeder)


def serve_restore(config, data, _feeder):
    """``restore`` inside the server: the server survives its own sweep; the tar comes as data."""
    import subprocess

    send(b"A")
    reset_areas(config)
    tar = subprocess.run(
        ["tar", "-x", "-p", "--no-overwrite-dir", "-C", "/", "-f", "-"], input=data, capture_output=True
    )
    if tar.stderr:
        send(b"E", tar.stderr)
    send(b"D", json.dumps({"exit_code": tar.returncode, "timed_out": False, "limit": None}).encode())


def serve_read(config, _data, _feeder):
    """``read`` inside the server: the whole file as one stdout frame, or the error on stderr."""
    send(b"A")
    try:
        with open(config["path"], "rb") as handle:
            content = handle.read()
    except OSError as error:
        send(b"E", f"{config['path']}: {error.strerror}\n".encode())
        send(b"D", json.dumps({"exit_code": 1, "timed_out": False, "limit": None}).encode())
        return
    send(b"O", content)
    send(b"D", json.dumps({"exit_code": 0, "timed_out": False, "limit": None}).encode())


def serve_write(config, data, _feeder):
    """``write`` inside the server: create parents, then create or replace the file with ``data``."""
    send(b"A")
    try:
        os.makedirs(os.path.dirname(config["path"]) or ".", exist_ok=True)
        with open(config["path"], "wb") as handle:
            handle.write(data)
    except OSError as error:
        send(b"E", f"{config['path']}: {error.strerror}\n".encode())
        send(b"D", json.dumps({"exit_code": 1, "timed_out": False, "limit": None}).encode())
        return
    send(b"D", json.dumps({"exit_code": 0, "timed_out": False, "limit": None}).encode())


def serve_kill_tree(config, _data, _feeder):
    """``kill_tree`` inside the server (the server is never part of an interpreter's tree)."""
    send(b"A")
    kill_tree(config)
    send(b"D", json.dumps({"exit_code": 0, "timed_out": False, "limit": None}).encode())


def serve_manifest(config, _data, _feeder):
    """``manifest`` inside the server: the JSON list as one stdout frame."""
    send(b"A")
    send(b"O", json.dumps(list_areas(config["areas"])).encode())
    send(b"D", json.dumps({"exit_code": 0, "timed_out": False, "limit": None}).encode())


def make_undumpable():
    """Close ``/proc/<server>/fd`` and ptrace to the commands (same uid), so none can forge frames."""
    import ctypes

    pr_set_dumpable = 4
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_dumpable, 0, 0, 0, 0)


class StdinFeeder:
    """One thread, started with the server, that writes each command's stdin and closes the pipe.

    Started once, so a command that fills the process limit cannot stop the next one from
    getting its input (a thread per command would need a free pid each time).
    """

    def __init__(self):
        import queue
        import threading

        self.jobs = queue.Queue()
        threading.Thread(target=self.work, daemon=True).start()

    def feed(self, fd, data):
        """Write ``data`` to the pipe ``fd`` in the background, then close it."""
        if data:
            self.jobs.put((fd, data))
        else:
            os.close(fd)

    def work(self):
        while True:
            fd, data = self.jobs.get()
            view = memoryview(data)
            try:
                while view:
                    view = view[os.write(fd, view[: 1 << 16]) :]
            except OSError:
                pass
            finally:
                os.close(fd)


def fork_command(config):
    """Fork the command with fresh pipes for its stdio; return (pid, stdin_w, stdout_r, stderr_r)."""
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.dup2(in_r, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        for fd in (in_r, in_w, out_r, out_w, err_r, err_w):
            os.close(fd)
        start_child_here(config)
    for fd in (in_r, out_w, err_w):
        os.close(fd)
    return pid, in_w, out_r, err_r


def start_child_here(config):
    """In a forked child: new session, limits, cwd, exec; on failure report like a shell does."""
    argv = config["argv"]
    code = 126
    try:
        os.setsid()
        apply_limits(config["limits"])
        os.chdir(config["cwd"])
        os.execvpe(argv[0], argv, config["env"])
    except OSError as error:
        code = 127 if isinstance(error, FileNotFoundError) else 126
        where = config["cwd"] if not os.path.isdir(config["cwd"]) else argv[0]
        os.write(2, (f"sandbox: {where}: {error.strerror}\n").encode())
    os._exit(code)


def serve_one(config, data, feeder):
    """Run one command: relay capped output, enforce the timeout and flood limit, sweep, report."""
    import selectors

    before = read_counters()
    began = time.monotonic()
    limit, flood_at = config["output_limit"], config["flood_at"]
    try:
        pid, in_w, out_r, err_r = fork_command(config)
    except OSError as error:
        send(b"A")
        send(b"E", (f"sandbox: cannot start the command: {error.strerror}\n").encode())
        send(b"D", json.dumps({"exit_code": 126, "timed_out": False, "limit": None}).encode())
        return
    send(b"A")
    feeder.feed(in_w, data)
    pidfd = os.pidfd_open(pid)
    selector = selectors.DefaultSelector()
    kinds = {out_r: b"O", err_r: b"E"}
    totals = {out_r: 0, err_r: 0}
    for fd in (out_r, err_r, pidfd):
        selector.register(fd, selectors.EVENT_READ)
    deadline = began + config["timeout"]
    status, timed_out, flooded, drain_until = None, False, False, None
    while kinds:
        now = time.monotonic()
        if status is None and now >= deadline:
            timed_out = True
            status = finish(pid, pidfd, selector, config, kill=True)
            drain_until = time.monotonic() + 2.0
        if drain_until is not None and now >= drain_until:
            break
        wait = (deadline if status is None else drain_until) - now
        for key, _ in selector.select(max(wait, 0)):
            if key.fd == pidfd:
                status = finish(pid, pidfd, selector, config, kill=False)
                drain_until = time.monotonic() + 2.0
                continue
            chunk = os.read(key.fd, 1 << 16)
            if not chunk:
                selector.unregister(key.fd)
                os.close(key.fd)
                del kinds[key.fd]
                continue
            room = limit - totals[key.fd]
            totals[key.fd] += len(chunk)
            if room > 0:
                send(kinds[key.fd], chunk[:room])
            if not flooded and sum(totals.values()) > flood_at:
                flooded = True
                if status is None:
                    status = finish(pid, pidfd, selector, config, kill=True)
                    drain_until = time.monotonic() + 2.0
    if status is None:
        status = finish(pid, pidfd, selector, config, kill=True)
    for fd in kinds:
        os.close(fd)
    selector.close()
    exit_code = exit_code_of(status)
    report = classify(config, before, exit_code, timed_out)
    if report["limit"] is None and flooded:
        report["limit"] = "output"
    out_total, err_total = totals.values()
    report.update(stdout_total=out_total, stderr_total=err_total, flooded=flooded)
    send(b"D", json.dumps(report).encode())


def finish(pid, pidfd, selector, config, kill):
    """Kill (if asked) and reap the command, then sweep what it left; return its wait status."""
    if kill:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
    try:
        selector.unregister(pidfd)
    except (KeyError, ValueError):
        pass
    os.close(pidfd)
    status = wait_until(pid, time.monotonic() + 5.0)
    sweep(config)
    if status is None:
        status = wait_until(pid, time.monotonic() + 5.0)
    return 9 if status is None else status


def classify(config, before, exit_code, timed_out):
    """The status report of a finished command: exit code, timed out, and which limit it hit."""
    after = read_counters()
    limit = None
    if timed_out:
        limit = "wall_time"
    elif after["oom"] > before["oom"]:
        limit = "memory"
    elif exit_code == 128 + signal.SIGXCPU:
        limit = "cpu_time"
    elif exit_code == 128 + signal.SIGXFSZ:
        limit = "file_size"
    elif exit_code != 0 and area_full(config["areas"]):
        limit = "disk"
    elif after["pids"] > before["pids"]:
        limit = "processes"
    return {"exit_code": exit_code, "timed_out": timed_out, "limit": limit}


def spawn(config):
    """Print this process's pid, then become the interpreter (same pid) under the limits."""
    if os.getsid(0) != os.getpid():
        try:
            os.setsid()
        except PermissionError:
            # A process-group leader cannot start a session: the interpreter becomes a child.
            child = os.fork()
            if child:
                return exit_code_of(os.waitpid(child, 0)[1])
            os.setsid()
    os.write(1, (str(os.getpid()) + "\n").encode())
    apply_limits(config["limits"])
    os.chdir(config["cwd"])
    argv = config["argv"]
    os.execvpe(argv[0], argv, config["env"])


def describe(path):
    """One manifest entry: type, mode, size, mtime and content hash (files) or target (links)."""
    info = os.lstat(path)
    entry = {"path": path, "mode": stat.S_IMODE(info.st_mode), "size": info.st_size, "mtime": info.st_mtime_ns}
    if stat.S_ISDIR(info.st_mode):
        entry.update(type="dir", size=0, mtime=0)
    elif stat.S_ISLNK(info.st_mode):
        entry.update(type="link", target=os.readlink(path))
    elif stat.S_ISREG(info.st_mode):
        import hashlib

        entry["type"] = "file"
        digest = hashlib.sha256()
        try:
            with open(path, "rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
            entry["sha256"] = digest.hexdigest()
        except OSError:
            entry["sha256"] = None
    else:
        entry["type"] = "other"
    return entry


def make_walkable(area):
    """Give the owner back read and search access to every directory (a command may chmod 000)."""
    blocked = []
    for _ in range(64):
        blocked.clear()
        for root, dirs, _files in os.walk(area, onerror=lambda error: blocked.append(error.filename)):
            for name in dirs:
                full = os.path.join(root, name)
                if not os.path.islink(full):
                    make_readable(full)
        for path in blocked:
            make_readable(path)
        if not blocked:
            return


def make_readable(path):
    try:
        mode = stat.S_IMODE(os.lstat(path).st_mode)
        if mode & 0o700 != 0o700:
            os.chmod(path, mode | 0o700)
    except (OSError, TypeError):
        pass


def manifest(config):
    """Print every entry below the writable areas as one JSON list."""
    sys.stdout.write(json.dumps(list_areas(config["areas"])))
    return 0


def list_areas(areas):
    """Describe every entry below ``areas`` (see :func:`describe`)."""
    entries = []
    for area in areas:
        make_walkable(area)
        for root, dirs, files in os.walk(area):
            for name in dirs + files:
                try:
                    entries.append(describe(os.path.join(root, name)))
                except OSError:
                    continue
    return entries


def empty(area):
    """Remove everything inside ``area`` (after giving the owner back access to every directory)."""
    make_walkable(area)
    for root, dirs, files in os.walk(area, topdown=False):
        for name in files:
            os.unlink(os.path.join(root, name))
        for name in dirs:
            full = os.path.join(root, name)
            if os.path.islink(full):
                os.unlink(full)
            else:
                os.rmdir(full)


def restore(config):
    """Kill every process, empty the writable areas, and unpack the snapshot tar from stdin."""
    import subprocess

    reset_areas(config)
    tar = subprocess.run(["tar", "-x", "-p", "--no-overwrite-dir", "-C", "/", "-f", "-"], stdin=sys.stdin)
    return tar.returncode


def reset_areas(config):
    """Kill every process but this one and init, then empty the writable areas."""
    sweep({"protect": []})
    for area in config["areas"]:
        os.chmod(area, 0o700 | stat.S_IMODE(os.stat(area).st_mode))
        empty(area)


SERVED_OPS = {
    "run": lambda config, data, feeder: serve_one(config, data, feeder),
    "restore": serve_restore,
    "read": serve_read,
    "write": serve_write,
    "kill_tree": serve_kill_tree,
    "manifest": serve_manifest,
}

MODES = {
    "init": init,
    "run": run,
    "serve": serve,
    "spawn": spawn,
    "sweep": sweep,
    "kill_tree": kill_tree,
    "manifest": manifest,
    "restore": restore,
}

if __name__ == "__main__":
    sys.exit(MODES[sys.argv[1]](json.loads(sys.argv[2])) or 0)
