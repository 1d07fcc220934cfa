"""Command line: ``gradcam-widget demo`` opens JupyterLab on the tutorial notebooks.

In a source checkout it serves the repository's ``notebooks/``; from an installed wheel it first copies
the packaged tutorials into ``./gradcam-widget-notebooks`` (never overwriting edited copies).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def notebooks_dir(target: Path | None = None) -> Path:
    """Where the tutorials live for this install (copying them out of the wheel if needed)."""
    checkout = PACKAGE.parent / "notebooks"
    if checkout.is_dir() and any(checkout.glob("*.ipynb")):
        return checkout
    packaged = PACKAGE / "notebooks"
    if not packaged.is_dir():
        raise SystemExit("the tutorial notebooks are not part of this installation.")
    target = target or Path.cwd() / "gradcam-widget-notebooks"
    target.mkdir(parents=True, exist_ok=True)
    for notebook in packaged.glob("*.ipynb"):
        if not (target / notebook.name).exists():
            shutil.copy2(notebook, target / notebook.name)
    return target


def demo(extra_args: list[str]) -> int:
    folder = notebooks_dir()
    command = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={folder}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--ServerApp.allow_root=True")
    print(f"gradcam-widget: JupyterLab on {folder} (works offline; Ctrl+C to stop)", flush=True)
    try:
        return subprocess.run(command + extra_args).returncode
    except KeyboardInterrupt:
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gradcam-widget", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="open JupyterLab on the tutorial notebooks; extra args go to jupyter lab")
    args, rest = parser.parse_known_args(argv)
    if args.command == "demo":
        return demo(rest)
    return 2


if __name__ == "__main__":
    sys.exit(main())
