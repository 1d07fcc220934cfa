"""Every tutorial notebook runs top to bottom, offline, without writing into the repository."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import nbclient
import nbformat

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
CELL_TIMEOUT = 300  # seconds; a cell that hangs (e.g. on a network call) fails instead of blocking CI


def _snapshot(folder: Path) -> dict:
    """Files under ``folder`` (the notebooks' working directory, where a relative write would land)."""
    skip = {".ipynb_checkpoints", "__pycache__"}
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*") if not skip & set(p.parts)}


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_notebook_runs(path: Path, record_property):
    notebook = nbformat.read(path, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), (
        f"{path.name} is committed with outputs; clear them"
    )
    before = _snapshot(NOTEBOOKS)
    client = nbclient.NotebookClient(
        notebook, timeout=CELL_TIMEOUT, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError on the first failing cell
    record_property("seconds", round(time.perf_counter() - start, 1))
    errors = [
        out
        for cell in notebook.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
    assert not errors
    after = _snapshot(NOTEBOOKS)
    changed = {p for p in set(before) | set(after) if before.get(p) != after.get(p)}
    assert not changed, f"{path.name} wrote into the repository: {sorted(map(str, changed))}"


def test_there_are_tutorials():
    names = {p.name for p in NOTEBOOKS.glob("*.ipynb")}
    assert {
        "01-quickstart.ipynb",
        "02-gradcam-step-by-step.ipynb",
        "03-shortcut-story.ipynb",
        "04-misclassifications.ipynb",
        "05-real-mistakes.ipynb",
    } <= names
