"""Keep TensorFlow's C++ start-up lines out of notebooks, unless the user asked for them.

Importing TensorFlow 2.2x prints, straight to file descriptor 2 (so a notebook shows them as red
stderr blocks): an absl "WARNING: All log messages before absl::InitializeLog() ..." line, oneDNN,
CPU-feature and cuda-stub INFO lines (twice: two shared libraries log them), and at the first op a
cuInit ERROR on machines without a GPU. The pre-init lines ignore ``TF_CPP_MIN_LOG_LEVEL``, so two
things are done, both only when the user has not set ``TF_CPP_MIN_LOG_LEVEL`` themselves:

- ``TF_CPP_MIN_LOG_LEVEL=3`` (C++ INFO/WARNING/ERROR lines off; TensorFlow's Python warnings and
  exceptions are unaffected), set before TensorFlow is first imported;
- the first ``import tensorflow`` runs with file descriptor 2 sent to a temporary file; afterwards
  the known start-up lines are dropped and everything else written meanwhile is written back to
  ``sys.stderr``, so a real message is never lost.

Nothing happens when TensorFlow was imported before this package (it is too late then).
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import os
import re
import sys
import tempfile
import threading

#: A glog/absl-formatted INFO or WARNING line, e.g. ``I0000 00:00:1796165549.71 8045 port.cc:153] ...``.
_LOG_LINE = re.compile(r"^([IWEF])\d{4} \d\d:\d\d:[\d.]+\s+\d+ [^\]]+\] ")
_ABSL_PREINIT = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
_installed = False
_lock = threading.Lock()


def startup_noise(text: str) -> str:
    """``text`` without TensorFlow's start-up log lines (INFO/WARNING entries, with their
    continuation lines, and absl's pre-init notice); ERROR/FATAL entries and other output stay."""
    kept = []
    dropping = False
    for line in text.splitlines(keepends=True):
        stripped = line.rstrip("\r\n")
        match = _LOG_LINE.match(stripped)
        if match:
            dropping = match.group(1) in "IW"
        elif stripped == _ABSL_PREINIT:
            dropping = True
            continue
        if not dropping:
            kept.append(line)
    return "".join(kept)


@contextlib.contextmanager
def filtered_stderr():
    """Send file descriptor 2 to a temporary file for the duration; then write back what is not
    start-up noise to ``sys.stderr`` (a notebook's stderr stream)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real fd 2 (embedded interpreters)
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            try:
                sys.stderr.flush()
            except (OSError, ValueError, AttributeError):
                pass
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            rest = startup_noise(capture.read().decode("utf-8", "replace"))
            if rest:
                sys.stderr.write(rest)
                sys.stderr.flush()


class _QuietLoader(importlib.abc.Loader):
    """Runs the real loader of ``tensorflow`` inside :func:`filtered_stderr`."""

    def __init__(self, real):
        self.real = real

    def create_module(self, spec):
        return self.real.create_module(spec)

    def exec_module(self, module):
        try:
            with filtered_stderr():
                self.real.exec_module(module)
        finally:  # the module keeps its real loader once imported
            module.__loader__ = self.real
            if getattr(module, "__spec__", None) is not None:
                module.__spec__.loader = self.real

    def __getattr__(self, name):  # get_resource_reader, is_package, ... from the real loader
        return getattr(self.real, name)


class _QuietFinder(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` through the other finders, once, and wraps its loader."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "tensorflow":
            return None
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)  # once only; also keeps the lookup below from recursing
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _QuietLoader(spec.loader)
        return spec


def quiet_tensorflow_startup() -> None:
    """Install the quiet defaults (idempotent); a no-op when the user set TF_CPP_MIN_LOG_LEVEL."""
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
        if "TF_CPP_MIN_LOG_LEVEL" in os.environ:
            return  # the user chose what to see
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        if "tensorflow" not in sys.modules:
            sys.meta_path.insert(0, _QuietFinder())
