"""Running programs under daxfs-run in tests."""
import os
import subprocess
import sys
import textwrap

from conftest import build_sanitizers, tool

RUN_TIMEOUT = 120


def sanitizer_preload():
    """What a program built without the sanitizers must preload to load a
    library built with them: AddressSanitizer's runtime has to come first."""
    if "address" not in build_sanitizers().split(","):
        return None
    cc = os.environ.get("CC", "cc")
    path = subprocess.run([cc, "-print-file-name=libasan.so"], capture_output=True,
                          text=True, check=True).stdout.strip()
    return path if os.path.isabs(path) else None


def run_env(debug=True, sync=False, extra=None):
    """The environment of a process under test: no preload of the caller's,
    except the sanitizer runtime of a sanitizer build (DAXFS_TEST_PRELOAD
    names another one). With it, leak checking is off (the interpreters it
    runs are not leak-free) and a SIGBUS is left to the program (a poisoned
    page, a page past EOF) instead of being the sanitizer's report."""
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    preload = env.get("DAXFS_TEST_PRELOAD") or sanitizer_preload()
    if preload:
        env["LD_PRELOAD"] = preload
        env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"),
                                                     "detect_leaks=0", "handle_sigbus=0"]))
    if debug:
        env["DAXFS_RUN_DEBUG"] = "1"
    if sync:
        env["DAXFS_RUN_SYNC"] = "1"
    env.update(extra or {})
    return env


def under_run(argv, check=True, debug=True, sync=False, env=None, timeout=RUN_TIMEOUT):
    """Runs argv under daxfs-run; returns the CompletedProcess."""
    r = subprocess.run([tool("daxfs-run"), *map(str, argv)], capture_output=True, text=True,
                       timeout=timeout, env=run_env(debug, sync, env))
    if check:
        assert r.returncode == 0, f"exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    return r


def py_run(code, *args, **kw):
    """Runs python code under daxfs-run."""
    return under_run([sys.executable, "-c", textwrap.dedent(code), *args], **kw)


def py_start(code, *args, debug=True, stderr=True):
    """Starts python code under daxfs-run with pipes to its stdin and stdout
    (and stderr); the caller talks to it and waits for it."""
    return subprocess.Popen([tool("daxfs-run"), sys.executable, "-c", textwrap.dedent(code),
                             *map(str, args)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE if stderr else None, text=True,
                            env=run_env(debug))


def py_plain(code, *args):
    """Runs python code without the library; returns stdout."""
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
                       capture_output=True, text=True, timeout=RUN_TIMEOUT,
                       env=run_env(debug=False))
    assert r.returncode == 0, r.stderr
    return r.stdout


def served(stderr, path=None):
    """Whether the debug log says a file was served directly."""
    return "served directly" in stderr


STEPPER = """
import errno, mmap, os, sys
fd = os.open(sys.argv[1], int(sys.argv[2]))
print("open", flush=True)
for line in sys.stdin:
    try:
        out = repr(eval(line))
    except OSError as e:
        out = "OSError " + errno.errorcode[e.errno]
    print(out, flush=True)
"""


class Driven:
    """A process under daxfs-run driven a line at a time: it prints ready
    once started; step(line) sends a line and returns the one it answers."""

    def __init__(self, argv, ready, debug=True):
        self.proc = subprocess.Popen([tool("daxfs-run"), *map(str, argv)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=run_env(debug))
        assert self.proc.stdout.readline() == ready + "\n", self.finish()

    def step(self, expr):
        self.proc.stdin.write(expr + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, self.finish()
        return line.rstrip("\n")

    def finish(self):
        """Ends the process; returns its stderr."""
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=RUN_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.stderr.read()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.finish()


class Stepper(Driven):
    """A python process under daxfs-run holding path open; step(expr)
    evaluates expr there (with os, mmap and the descriptor fd) and returns
    repr of the result, or "OSError ENAME"."""

    def __init__(self, path, flags=os.O_RDWR, debug=True):
        super().__init__([sys.executable, "-c", STEPPER, path, flags], "open", debug)
