# Defines _lemur_run inside a sandboxed Python REPL (standard library only; never imports lemur).
#
# The REPL process becomes a zygote: it never runs untrusted code itself. Each program runs in a
# child forked from it (the way the original HumanEval harness runs programs in a forked
# process), in its own session and scratch directory, with every inherited descriptor but
# 0/1/2 closed, so it cannot reach the REPL's protocol pipes. The zygote is made non-dumpable,
# so a program running as the same user cannot ptrace it or open its /proc entries.
import base64 as _b64
import json as _json
import os as _os
import select as _select
import shutil as _shutil
import signal as _signal
import tempfile as _tempfile
import time as _time

try:
    import ctypes as _ctypes

    _ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 0
except Exception:  # noqa: BLE001 - without ctypes the sandbox boundary still holds
    pass


def _lemur_child(source, out_fd, err_fd, workdir):
    import builtins
    import sys
    import traceback

    _os.setsid()
    _os.chdir(workdir)
    null = _os.open(_os.devnull, _os.O_RDONLY)
    _os.dup2(null, 0)
    _os.dup2(out_fd, 1)
    _os.dup2(err_fd, 2)
    _os.closerange(3, 65536)
    for number in (_signal.SIGALRM, _signal.SIGINT, _signal.SIGTERM):
        _signal.signal(number, _signal.SIG_DFL)
    _signal.setitimer(_signal.ITIMER_REAL, 0)
    sys.stdin = open(0, closefd=False)
    sys.stdout = open(1, "w", closefd=False)
    sys.stderr = open(2, "w", closefd=False)
    sys.argv = [""]
    status = 0
    try:
        exec(compile(source, "<program>", "exec"), {"__name__": "__main__", "__builtins__": builtins})
    except SystemExit as stop:
        code = stop.code
        status = code if isinstance(code, int) else (0 if code is None else 1)
        if not isinstance(code, int) and code is not None:
            print(code, file=sys.stderr)
    except BaseException:  # noqa: BLE001 - the program's failure is its result
        traceback.print_exc()
        status = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        _os._exit(status & 0xFF)


def _lemur_lineage():
    """This process and its ancestors (pids), read from /proc."""
    pids, pid = set(), _os.getpid()
    while pid > 0 and pid not in pids:
        pids.add(pid)
        try:
            with open(f"/proc/{pid}/stat", "rb") as stat:
                pid = int(stat.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return pids


def _lemur_reap_strays():
    """Kill every process this namespace shows besides the zygote's lineage (daemons that left the session)."""
    keep = _lemur_lineage()
    for name in _os.listdir("/proc"):
        if name.isdigit() and int(name) not in keep:
            try:
                _os.kill(int(name), _signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def _lemur_run(encoded, timeout, max_bytes):
    source = _b64.b64decode(encoded).decode("utf-8")
    workdir = _tempfile.mkdtemp(prefix="run-")
    out_read, out_write = _os.pipe()
    err_read, err_write = _os.pipe()
    start = _time.monotonic()
    pid = _os.fork()
    if pid == 0:
        _lemur_child(source, out_write, err_write, workdir)
    _os.close(out_write)
    _os.close(err_write)
    buffers = {out_read: bytearray(), err_read: bytearray()}
    open_fds, truncated, timed_out, status = [out_read, err_read], False, False, None
    deadline = start + timeout
    while open_fds:
        remaining = deadline - _time.monotonic()
        if remaining <= 0:
            timed_out = True
            break
        # once the program itself has exited, leftovers holding its pipes get a short grace only
        ready, _, _ = _select.select(open_fds, [], [], min(remaining, 0.05))
        for fd in ready:
            chunk = _os.read(fd, 65536)
            if not chunk:
                open_fds.remove(fd)
                continue
            room = max_bytes - len(buffers[fd])
            if len(chunk) > room:
                truncated = True
            buffers[fd] += chunk[: max(room, 0)]
        if status is None:
            done, waited = _os.waitpid(pid, _os.WNOHANG)
            if done:
                status = waited
        elif not ready:
            break
    try:
        _os.killpg(pid, _signal.SIGKILL)  # the program's whole session: daemons and leftovers too
    except (ProcessLookupError, PermissionError):
        pass
    if status is None:
        _, status = _os.waitpid(pid, 0)
    _lemur_reap_strays()
    for fd in (out_read, err_read):
        _os.close(fd)
    _shutil.rmtree(workdir, ignore_errors=True)
    if timed_out:
        exit_code = 128 + _signal.SIGKILL
    elif _os.WIFSIGNALED(status):
        exit_code = 128 + _os.WTERMSIG(status)
    else:
        exit_code = _os.WEXITSTATUS(status)
    result = {
        "exit_code": exit_code,
        "stdout": buffers[out_read].decode("utf-8", "replace"),
        "stderr": buffers[err_read].decode("utf-8", "replace"),
        "timed_out": timed_out,
        "truncated": truncated,
        "seconds": _time.monotonic() - start,
    }
    print("LEMUR-RESULT " + _json.dumps(result))
