"""Superseding background work: the widget's slow maps and its trust report both run this way.

Each request bumps a generation counter; a run started for an older generation is superseded: it
stops at its next batch (the engine calls ``cancel()`` between batches) and sends nothing, so a
superseded result is never drawn. Progress is throttled to one update per interval. A stop with a
reason (a kernel interrupt, see :mod:`gradcam_widget.kernel_hooks`) is told to the stopped run, so
the page says why instead of waiting forever.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

#: Least time between two progress updates sent to the browser.
PROGRESS_INTERVAL_S = 0.2


class Run:
    """One request's view of its job: whether it was superseded, its throttle and its stop reason."""

    def __init__(self, job: BackgroundJob, generation: int):
        self._job, self.generation = job, generation
        self._last = 0.0

    def superseded(self) -> bool:
        return self._job.generation != self.generation

    def due(self, final: bool = False) -> bool:
        """Whether a progress update may be sent now (at most one per interval, always the last one),
        and never for a superseded run."""
        now = time.monotonic()
        if (now - self._last >= self._job.interval or final) and not self.superseded():
            self._last = now
            return True
        return False

    def stop_reason(self) -> str | None:
        """Why this run was stopped from outside (an interrupt), once; None when it was superseded."""
        return self._job.stop_reasons.pop(self.generation, None)


class BackgroundJob:
    """A generation counter and at most one live worker thread for it."""

    def __init__(self, name: str, interval: float = PROGRESS_INTERVAL_S):
        self.name, self.interval = name, interval
        self.generation = 0
        self.thread: threading.Thread | None = None
        self.stop_reasons: dict[int, str] = {}

    def supersede(self) -> None:
        """Make every earlier run stop at its next batch (a newer request, a closed panel)."""
        self.generation += 1

    def run(self) -> Run:
        """A run for the current generation (call :meth:`supersede` first for a new request)."""
        return Run(self, self.generation)

    def start(self, target: Callable[[], None]) -> None:
        """Run ``target`` on a daemon thread (it checks its :class:`Run` between batches); called on
        the kernel's main thread."""
        from . import kernel_hooks

        self.thread = threading.Thread(target=target, name=self.name, daemon=True)
        self.thread.start()
        kernel_hooks.arm_interrupt()  # an interrupt while the kernel is idle now stops it

    def stop(self, reason: str) -> None:
        """Stop the live run with a reason it reports (an interrupt), then supersede it."""
        if self.busy:
            self.stop_reasons[self.generation] = reason
        self.supersede()

    @property
    def busy(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        if self.thread is not None:
            self.thread.join(timeout)
