#!/usr/bin/env python3
"""Set up and run collab from a fresh clone with nothing but Python >= 3.11.

    python3 dev.py demo     # set up, then run the flagship example on the embedded defaults
    python3 dev.py test     # set up, then run the test suite
    python3 dev.py bench    # set up, then run the benchmarks
    python3 dev.py setup    # only set up

Set-up is idempotent: a virtual environment in .venv, llama-cpp-python built once from source
with portable CPU flags (a native build crashes in llama.cpp's AMX kernels on some Xeons) and
cached under $COLLAB_HOME/wheels, and the default models pulled into $COLLAB_HOME/models.
A second run rebuilds nothing and downloads nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PY = VENV / "bin" / "python"
LLAMA_CPP_VERSION = "0.3.36"
PORTABLE_CMAKE_ARGS = (
    "-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
)
DEFAULT_MODELS = [
    "smollm2-135m-instruct",
    "gemma3-270m",
    "qwen2.5-coder-0.5b-instruct",
    "qwen2.5-coder-1.5b-instruct",
]
STAMP = VENV / "collab-setup.json"


def collab_home() -> Path:
    return Path(os.environ.get("COLLAB_HOME", Path.home() / ".cache" / "collab")).expanduser()


def say(message: str) -> None:
    print(f"\033[1;36m[setup]\033[0m {message}", flush=True)


def run(cmd: list[str], **kwargs: object) -> None:
    subprocess.run(cmd, check=True, **kwargs)  # type: ignore[call-overload]


def pip_env() -> dict[str, str]:
    env = dict(os.environ)
    # Any source build of llama-cpp-python that pip might attempt is portable too.
    env["CMAKE_ARGS"] = PORTABLE_CMAKE_ARGS
    env["FORCE_CMAKE"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def ensure_venv() -> None:
    if PY.exists():
        return
    say(f"creating virtual environment in {VENV.relative_to(ROOT)}")
    venv.EnvBuilder(with_pip=True, clear=True).create(VENV)


def portable_wheel() -> Path:
    """The cached portable wheel, built on first use. The cache key includes the flags."""
    key = hashlib.sha256(PORTABLE_CMAKE_ARGS.encode()).hexdigest()[:12]
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    cache = collab_home() / "wheels" / f"llama-cpp-python-{LLAMA_CPP_VERSION}-{tag}-portable-{key}"
    wheels = sorted(cache.glob("llama_cpp_python-*.whl"))
    if wheels:
        return wheels[0]
    say(
        f"building llama-cpp-python {LLAMA_CPP_VERSION} from source with portable CPU flags "
        "(once; about 4-5 minutes on 2 cores)"
    )
    cache.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache.parent) as tmp:
        build = Path(tmp) / "out"
        env = pip_env()
        env["CMAKE_BUILD_PARALLEL_LEVEL"] = str(os.cpu_count() or 2)
        run(
            [
                str(PY),
                "-m",
                "pip",
                "wheel",
                "--no-deps",
                "--no-cache-dir",
                "--no-binary",
                "llama-cpp-python",
                f"llama-cpp-python=={LLAMA_CPP_VERSION}",
                "-w",
                str(build),
                "-q",
            ],
            env=env,
        )
        # An atomic rename: an interrupted build never leaves a wheel that looks finished.
        if cache.exists():
            shutil.rmtree(cache)
        build.rename(cache)
    return sorted(cache.glob("llama_cpp_python-*.whl"))[0]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_stamp() -> dict[str, str]:
    try:
        return json.loads(STAMP.read_text())
    except (OSError, ValueError):
        return {}


def ensure_packages() -> None:
    stamp = read_stamp()
    wheel = portable_wheel()
    wheel_id = f"{wheel.name}:{file_sha256(wheel)}"
    if stamp.get("llama_cpp_wheel") != wheel_id:
        say(f"installing {wheel.name} (portable build)")
        run(
            [
                str(PY),
                "-m",
                "pip",
                "install",
                "-q",
                "--no-deps",
                "--force-reinstall",
                "--no-cache-dir",
                str(wheel),
            ],
            env=pip_env(),
        )
        stamp = {"llama_cpp_wheel": wheel_id}
        STAMP.write_text(json.dumps(stamp))
    project_id = file_sha256(ROOT / "pyproject.toml")
    if stamp.get("project") != project_id:
        say("installing collab and its dependencies")
        run([str(PY), "-m", "pip", "install", "-q", "-e", f"{ROOT}[dev]"], env=pip_env())
        stamp["project"] = project_id
        STAMP.write_text(json.dumps(stamp))
    if stamp.get("portable") != wheel_id:
        check_portable(wheel)
        stamp["portable"] = wheel_id
        STAMP.write_text(json.dumps(stamp))


def check_portable(wheel: Path) -> None:
    """Refuse a llama.cpp with AMX kernels: the native build that crashes on these Xeons."""
    probe = "import llama_cpp; print(llama_cpp.llama_print_system_info().decode())"
    result = subprocess.run([str(PY), "-c", probe], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"[setup] llama-cpp-python does not import: {result.stderr.strip()[-400:]}")
    if "AMX_INT8 = 1" in result.stdout:
        sys.exit(
            f"[setup] llama-cpp-python reports AMX kernels: not a portable build. "
            f"Delete {wheel.parent} and run again."
        )


def ensure_models() -> None:
    run([str(VENV / "bin" / "collab"), "models", "pull", "--quiet", *DEFAULT_MODELS])


def setup() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036  (dev.py runs on whatever python3 is)
        sys.exit(f"collab needs Python >= 3.11; this is {sys.version.split()[0]}")
    ensure_venv()
    ensure_packages()
    ensure_models()


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "help"
    rest = argv[1:]
    if command not in {"setup", "demo", "test", "bench"}:
        print(__doc__)
        return 2
    setup()
    if command == "setup":
        return 0
    if command == "demo":
        return subprocess.call([str(VENV / "bin" / "collab"), "run", "cascade_qa", *rest])
    if command == "test":
        return subprocess.call([str(PY), "-m", "pytest", *rest], cwd=ROOT)
    return subprocess.call([str(PY), "-m", "bench", *rest], cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
