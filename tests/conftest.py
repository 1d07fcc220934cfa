"""Shared pytest configuration for the whole suite.

Each section below is self-contained (its own helpers and hooks); add new ones as new sections.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

# ================================================================================================
# Browser tests (tests/browser, marker `browser`)
#
# The harness itself (Jupyter server, Chromium, fixtures) lives in tests/browser/conftest.py.
# This section only puts a line in the report header saying whether those tests can run here,
# so that a skip is never silent. Without Chromium they skip (loudly) on a workstation and FAIL
# when CI=true.
# ================================================================================================
_BROWSER_CHROMIUM = "/usr/bin/chromium"


def _browser_tests_status() -> str:
    missing = []
    if not (os.path.isfile(_BROWSER_CHROMIUM) and os.access(_BROWSER_CHROMIUM, os.X_OK)):
        missing.append(f"Chromium at {_BROWSER_CHROMIUM} (apt-get install -y chromium; never `playwright install`)")
    if importlib.util.find_spec("playwright") is None:
        missing.append("the playwright Python package (pip install playwright)")
    if not missing:
        return f"will run with {_BROWSER_CHROMIUM} (deselect with -m 'not browser')"
    verdict = "WILL FAIL (CI=true)" if os.environ.get("CI", "").strip().lower() == "true" else "WILL BE SKIPPED"
    return f"!!! {verdict}: missing " + "; ".join(missing)


def pytest_report_header(config):
    return [f"browser tests: {_browser_tests_status()}"]


# ================================================================================================
# (end of the browser-tests section)
# ================================================================================================


# ================================================================================================
# Opt-in slow tests (marker `slow`): e.g. retraining the demo models. Run with --run-slow.
# ================================================================================================
def pytest_addoption(parser):
    parser.addoption(
        "--run-slow",
        action="store_true",
        default=False,
        help="also run slow opt-in tests (retraining the demo models, minutes)",
    )


# ================================================================================================
# Two workers (pytest-xdist, `tasks.py test` runs `-n 2 --dist loadgroup`): every browser test on one
# worker (one Jupyter server, one Chromium), every other module whole on one worker (its module-scoped
# models built once). Without xdist these marks do nothing.
# ================================================================================================
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    browser_dir = Path(__file__).resolve().parent / "browser"
    for item in items:
        path = Path(str(item.path)).resolve()
        group = "browser" if browser_dir in path.parents else path.stem
        item.add_marker(pytest.mark.xdist_group(group))
