#!/usr/bin/env python3
"""Set-up and tasks for a fresh clone; needs nothing but Python 3.11+.

    python3 dev.py demo     create .venv if needed, install Aether, run the demo
    python3 dev.py test     create .venv if needed, install Aether and its test tools,
                            then run .venv/bin/python -m pytest tests/
    python3 dev.py check    ruff and mypy --strict (the package, the cookbook, and what
                            users' type checkers infer: tests/typecheck), as CI runs them
    python3 dev.py bench    run the benchmarks and rewrite benchmarks/README.md
    python3 dev.py bench --peers
                            the same, after installing the peer frameworks the
                            benchmarks compare Aether with (the bench extra)

Extra arguments after ``test`` go to pytest; when they name test files or folders, only
those run.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"
STAMP = VENV / ".aether-installed"


def _fingerprint() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


def ensure_venv() -> None:
    """Create .venv and install the project with its dev extra, once per pyproject.toml."""
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py may run on an older python3
        sys.exit(f"Aether needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    if not PYTHON.exists():
        print("creating .venv ...", flush=True)
        try:
            venv.EnvBuilder(with_pip=True).create(VENV)
        except (OSError, subprocess.CalledProcessError) as error:
            sys.exit(
                f"could not create .venv ({error}); on Debian or Ubuntu install the venv "
                f"module first: apt-get install python3-venv"
            )
    if STAMP.exists() and STAMP.read_text() == _fingerprint():
        return
    print("installing aether and its dev tools into .venv ...", flush=True)
    subprocess.run([str(PYTHON), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
    subprocess.run(
        [str(PYTHON), "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[dev]"], check=True
    )
    STAMP.write_text(_fingerprint())


def run(*command: str) -> int:
    return subprocess.run(command, cwd=ROOT, env=os.environ.copy()).returncode


def main(argv: list[str]) -> int:
    task = argv[0] if argv else "help"
    rest = argv[1:]
    if task == "demo":
        ensure_venv()
        return run(str(PYTHON), "-m", "aether", "demo")
    if task == "test":
        ensure_venv()
        names_paths = any((ROOT / arg.split("::")[0]).exists() for arg in rest if arg)
        paths = [] if names_paths else ["tests/"]
        return run(str(PYTHON), "-m", "pytest", *paths, *rest)
    if task == "check":
        ensure_venv()
        return (
            run(str(VENV / "bin" / "ruff"), "check", ".")
            or run(str(VENV / "bin" / "mypy"), "--strict", "aether")
            or run(str(VENV / "bin" / "mypy"), "--strict", "middleware")
            or run(str(VENV / "bin" / "mypy"), "--strict", "tests/typecheck")
        )
    if task == "bench":
        ensure_venv()
        if "--peers" in rest:
            rest.remove("--peers")
            print("installing the peer frameworks (the bench extra) into .venv ...", flush=True)
            subprocess.run(
                [str(PYTHON), "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[bench]"],
                check=True,
            )
        return run(str(PYTHON), "-m", "benchmarks", *rest)
    print(__doc__)
    return 0 if task in ("help", "-h", "--help") else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
