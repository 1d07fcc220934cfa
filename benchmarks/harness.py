"""Timing harness: contenders measured in one process, interleaved round by round.

On a shared machine absolute times drift with the load of other processes, so every scenario runs its
contenders in rounds (one call of each per round, in a fresh seeded random order each round) and
reports medians, min/max, and ratios of medians measured side by side. The order is shuffled rather
than rotated: a rotation keeps every contender behind the same neighbour, and a small call right after
a heavy eager one (tf-keras-vis) is slower, which a rotation turns into a bias. Work a contender needs
before a call (a new image, a class not asked before, a cleared cache) is done in its untimed
``setup``.
"""

from __future__ import annotations

import datetime
import gc
import os
import platform
import random
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass
class Contender:
    """One way of doing a scenario's work.

    ``run(arg)`` is timed; ``setup()`` (untimed) returns ``arg``; ``check(arg, result)`` (untimed)
    verifies the call did the work (e.g. the widget holds the map of the class asked for).
    """

    name: str
    run: Callable[[Any], Any]
    setup: Callable[[], Any] | None = None
    check: Callable[[Any, Any], None] | None = None
    note: str = ""
    warmup: int | None = None  # warm-up calls (None: the scenario's); 0 for eager code that traces nothing
    max_runs: int | None = None  # cap on timed calls, for slow reference contenders


@dataclass
class Timings:
    """Wall times (``ms``) and this process's CPU times (``cpu_ms``, all threads) of the timed calls.

    Wall time is what a user waits; CPU time barely moves when other processes load the machine, so it
    is kept as a cross-check of the wall-time ratios (TensorFlow's idle pool threads add a little).
    """

    name: str
    ms: list = field(default_factory=list)
    note: str = ""
    cpu_ms: list = field(default_factory=list)

    def summary(self) -> dict:
        if not self.ms:
            return {
                "n": 0,
                "median": None,
                "min": None,
                "max": None,
                "ms": [],
                "cpu_median": None,
                "cpu_ms": [],
                "note": self.note,
            }
        cpu = statistics.median(self.cpu_ms) if self.cpu_ms else None
        return {
            "n": len(self.ms),
            "median": statistics.median(self.ms),
            "min": min(self.ms),
            "max": max(self.ms),
            "ms": [round(t, 3) for t in self.ms],
            "cpu_median": cpu,
            "cpu_ms": [round(t, 3) for t in self.cpu_ms],
            "note": self.note,
        }

    def add(self, wall_cpu: tuple) -> None:
        self.ms.append(wall_cpu[0])
        self.cpu_ms.append(wall_cpu[1])


def _call(contender: Contender) -> tuple[float, float]:
    """(wall ms, process CPU ms) of one call."""
    arg = contender.setup() if contender.setup is not None else None
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        cpu = time.process_time()
        start = time.perf_counter()
        result = contender.run(arg)
        elapsed = (time.perf_counter() - start) * 1000.0
        cpu = (time.process_time() - cpu) * 1000.0
    finally:
        if gc_was_enabled:
            gc.enable()
    if contender.check is not None:
        contender.check(arg, result)
    return elapsed, cpu


def interleave(
    contenders: list[Contender],
    *,
    warmup: int = 1,
    min_rounds: int = 3,
    max_rounds: int = 9,
    budget_s: float = 30.0,
    log: Callable[[str], None] | None = None,
) -> dict[str, Timings]:
    """Time each contender in rounds; the number of rounds adapts to ``budget_s`` within the bounds.

    Warm-up calls (tracing, first-call costs) are not recorded. Each round runs the contenders in a
    new random order (seeded: runs are repeatable), so none has a fixed neighbour. Rounds go on while
    another round is expected to fit in the budget (and at least ``min_rounds``, at most
    ``max_rounds``); a contender with ``max_runs`` sits out the rounds after its last run.
    """
    results = {c.name: Timings(c.name, note=c.note) for c in contenders}
    for c in contenders:
        for _ in range(warmup if c.warmup is None else c.warmup):
            _call(c)
    shuffle = random.Random(0).shuffle
    start = time.perf_counter()
    r = 0
    while r < max_rounds:
        elapsed = time.perf_counter() - start
        if r >= min_rounds and elapsed + elapsed / r > budget_s:
            break
        order = list(contenders)
        shuffle(order)
        for c in order:
            if c.max_runs is not None and len(results[c.name].ms) >= c.max_runs:
                continue
            results[c.name].add(_call(c))
        gc.collect()
        r += 1
    if log is not None:
        log(
            "    "
            + ", ".join(f"{n}: {statistics.median(t.ms):.1f}" for n, t in results.items())
            + f"  (ms, {r} rounds)"
        )
    return results


def once(contenders: list[Contender], *, rounds: int = 1) -> dict[str, Timings]:
    """Contenders whose every call is a first call (cold start): no warm-up, few rounds, interleaved."""
    results = {c.name: Timings(c.name, note=c.note) for c in contenders}
    for r in range(rounds):  # alternate, so neither is always first (nor always after the other)
        order = contenders[r % len(contenders) :] + contenders[: r % len(contenders)]
        for c in order:
            results[c.name].add(_call(c))
            gc.collect()
    return results


def ratio(numerator: dict | None, denominator: dict | None) -> float | None:
    """Ratio of two summaries' medians (None when either is missing)."""
    if not numerator or not denominator or not numerator.get("median") or not denominator.get("median"):
        return None
    return numerator["median"] / denominator["median"]


def machine_info() -> dict:
    import numpy as np
    import tensorflow as tf
    import keras

    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    try:
        import tf_keras_vis

        tkv = tf_keras_vis.__version__
    except Exception:  # noqa: BLE001 - optional contender
        tkv = None
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
        "python": platform.python_version(),
        "platform": platform.platform(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "tf_keras_vis": tkv,
    }
