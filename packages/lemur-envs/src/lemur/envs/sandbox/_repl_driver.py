"""The Python REPL driver that runs inside a sandbox (``python3 -u -c <this source> <token>``).

Standard library only; never imports ``lemur``. Reads cells framed as ``<n bytes> <timeout>\\n``
followed by the code from standard input, runs each in one persistent namespace, prints the
value of a final expression (as an interactive interpreter does), prints tracebacks to
stderr, and answers ``<token>EXIT<status>`` on stdout and ``<token>`` on stderr: status 0
(ran), 1 (raised) or 124 (stopped by the cell's timeout, via SIGALRM).
"""

import ast
import builtins
import os
import signal
import sys
import traceback


class CellTimeout(KeyboardInterrupt):
    """Raised inside a cell when its time is up (a KeyboardInterrupt, so ``except Exception`` cannot eat it)."""


def on_alarm(_signum, _frame):
    raise CellTimeout("the cell exceeded its timeout")


def run_cell(code, namespace):
    """Run one cell; return its status."""
    try:
        tree = ast.parse(code, "<cell>", "exec")
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        exec(compile(tree, "<cell>", "exec"), namespace)
        if last is not None:
            value = eval(compile(last, "<cell>", "eval"), namespace)
            if value is not None:
                builtins._ = value
                print(repr(value))
        return 0
    except CellTimeout:
        print("TimeoutError: the cell exceeded its timeout and was interrupted", file=sys.stderr)
        return 124
    except SystemExit as stop:
        print(f"SystemExit: {stop.code}", file=sys.stderr)
        return 1
    except BaseException as error:  # noqa: BLE001 - user code may raise anything; report it like a REPL
        tb = error.__traceback__.tb_next if error.__traceback__ is not None else None
        traceback.print_exception(type(error), error, tb, file=sys.stderr)
        return 1


def main():
    token = sys.argv[1]
    protocol_in = os.fdopen(os.dup(0), "rb", buffering=0)
    protocol_out = os.dup(1)
    protocol_err = os.dup(2)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    sys.stdin = open(os.devnull)
    sys.argv = [""]
    signal.signal(signal.SIGALRM, on_alarm)
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    os.write(protocol_out, f"{token}EXIT0\n".encode())
    os.write(protocol_err, f"{token}\n".encode())
    while True:
        header = b""
        while not header.endswith(b"\n"):
            byte = protocol_in.read(1)
            if not byte:
                return
            header += byte
        size, timeout = header.split()
        code = b""
        while len(code) < int(size):
            chunk = protocol_in.read(int(size) - len(code))
            if not chunk:
                return
            code += chunk
        if float(timeout) > 0:
            signal.setitimer(signal.ITIMER_REAL, float(timeout))
        try:
            status = run_cell(code.decode("utf-8", "replace"), namespace)
        except CellTimeout:
            status = 124
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        sys.stdout.flush()
        sys.stderr.flush()
        os.write(protocol_out, f"{token}EXIT{status}\n".encode())
        os.write(protocol_err, f"{token}\n".encode())


if __name__ == "__main__":
    main()
