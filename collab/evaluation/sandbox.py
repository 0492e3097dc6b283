"""Running untrusted Python (a model's code) in a child process: time-limited, without network.

Never in our process. The child is a fresh ``python -I`` (no user site-packages, no ``PYTHON*``
variables, no current folder on the path) in an empty temporary folder, with an environment of
its own (no proxies, no keys). Its first lines, before the untrusted code, set resource limits
(CPU seconds, memory, file size; a ``preexec_fn`` is not safe in our threaded process) and add
an audit hook that refuses sockets and new processes. Where ``unshare`` can create one, the
child also gets a network namespace of its own (only a down loopback). On timeout the whole
process group is killed.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = ["Execution", "network_isolated", "run_python"]

MEMORY_LIMIT_BYTES = 2 << 30
OUTPUT_LIMIT_BYTES = 16 << 20
_KEEP_OUTPUT_CHARS = 2000

_GUARD = """\
import resource as _collab_resource
import sys as _collab_sys

for _collab_limit, _collab_value in (
    (_collab_resource.RLIMIT_CPU, {cpu_s}),
    (_collab_resource.RLIMIT_AS, {memory}),
    (_collab_resource.RLIMIT_FSIZE, {file_size}),
    (_collab_resource.RLIMIT_CORE, 0),
):
    try:
        _collab_resource.setrlimit(_collab_limit, (_collab_value, _collab_value))
    except (ValueError, OSError):
        pass  # a hard limit already lower than ours: keep it

_COLLAB_REFUSED = frozenset({{
    "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
    "os.forkpty", "pty.spawn", "ctypes.dlopen",
}})


def _collab_guard(event, args):
    if event.startswith("socket.") or event in _COLLAB_REFUSED:
        raise PermissionError(f"{{event}} is not allowed in the sandbox")


_collab_sys.addaudithook(_collab_guard)
del _collab_guard, _collab_limit, _collab_value
"""
"""Prepended to the program. Limits set soft = hard cannot be raised again, and audit hooks
cannot be removed once added (PEP 578)."""


@dataclass(frozen=True, slots=True)
class Execution:
    """How a program run ended."""

    status: Literal["passed", "failed", "timeout"]
    """passed: exit code 0; failed: any other exit; timeout: killed after the time limit."""
    detail: str
    """The last line of the program's stderr (the exception), or why it was stopped."""
    duration_s: float
    stderr: str = ""
    """The end of the program's stderr."""

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def run_python(program: str, *, timeout_s: float = 10.0) -> Execution:
    """Run ``program`` as a Python script in the sandbox; it passes when it exits with 0."""
    with tempfile.TemporaryDirectory(prefix="collab-sandbox-") as tmp:
        script = Path(tmp) / "program.py"
        guard = _GUARD.format(
            cpu_s=int(timeout_s) + 1, memory=MEMORY_LIMIT_BYTES, file_size=OUTPUT_LIMIT_BYTES
        )
        script.write_text(guard + "\n" + program, encoding="utf-8")
        command = [sys.executable, "-I", str(script)]
        if network_isolated():
            command = ["unshare", "--user", "--map-root-user", "--net", "--", *command]
        started = time.perf_counter()
        process = subprocess.Popen(
            command,
            cwd=tmp,
            env=_clean_env(tmp),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group, killed as one on timeout
        )
        try:
            _, err = process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            return Execution(
                "timeout", f"timed out after {timeout_s:g} s", time.perf_counter() - started
            )
        finally:
            if process.poll() is None:
                _kill_group(process)
        duration = time.perf_counter() - started
    stderr = err.decode("utf-8", "replace")[-_KEEP_OUTPUT_CHARS:]
    if process.returncode == 0:
        return Execution("passed", "", duration, stderr)
    lines = [line for line in stderr.splitlines() if line.strip()]
    detail = lines[-1].strip() if lines else f"exit code {process.returncode}"
    return Execution("failed", detail, duration, stderr)


@functools.cache
def network_isolated() -> bool:
    """Whether ``unshare`` can give a child a network namespace of its own here."""
    if shutil.which("unshare") is None:
        return False
    try:
        probe = subprocess.run(
            ["unshare", "--user", "--map-root-user", "--net", "--", "true"],
            capture_output=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return probe.returncode == 0


def _clean_env(home: str) -> dict[str, str]:
    """No proxies, keys or Python settings of ours: only what a plain interpreter needs."""
    return {"PATH": "/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"}


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
