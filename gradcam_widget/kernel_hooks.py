"""What the package learns from the IPython kernel it runs in: a cell ran (the model's weights may
have changed: each open widget checks and shows a stale indicator; between cells no user code runs,
so explainers need not check again), and the kernel was interrupted (widgets' background work stops
at its next batch).

An interrupt while a cell runs raises KeyboardInterrupt in that cell; the ``post_run_cell`` event sees
it. An interrupt while the kernel is idle is a SIGINT that ipykernel ignores (its idle handler is
SIG_IGN), so nothing in Python would notice: while widgets are open, the idle handler becomes one
that stops their work and then does what the previous handler did. ipykernel keeps the idle handler
in ``kernel.saved_sigint_handler`` while it handles a message (it puts KeyboardInterrupt in place for
the message, then restores the saved one), so that is where ours goes. Outside a kernel this module
does nothing.
"""

from __future__ import annotations

import sys
import threading
import weakref

_widgets: weakref.WeakSet = weakref.WeakSet()
_state = {"events": None, "previous": None}
_cells = {"started": 0, "running": False}

#: What a widget's page says after its work was stopped by an interrupt.
INTERRUPTED = "Stopped: the kernel was interrupted. Pick a class, method or layer to compute again."


def install() -> None:
    """Follow the cells of the IPython kernel we run in, if any (once per shell). A bare IPython shell
    without a kernel (a test, a script) runs code outside cells too, so it is not followed."""
    shell = _shell()
    if shell is None or getattr(shell, "kernel", None) is None or _state["events"] is shell.events:
        return
    shell.events.register("pre_run_cell", _before_cell)
    shell.events.register("post_run_cell", _after_cell)
    _state["events"] = shell.events


def quiet_epoch() -> int | None:
    """The number of cells run so far while no cell is running (no user code can be changing the
    model), else None (inside a cell, or outside IPython: anything may happen between two calls)."""
    if _state["events"] is None or _cells["running"]:
        return None
    return _cells["started"]


def watch(widget) -> None:
    """Have ``widget`` told about cells that ran and about interrupts (until it is closed)."""
    _widgets.add(widget)
    install()
    arm_interrupt()


def unwatch(widget) -> None:
    _widgets.discard(widget)


def arm_interrupt() -> None:
    """Make an interrupt while the kernel is idle stop the widgets' work (main thread only)."""
    kernel = getattr(_shell(), "kernel", None)
    if kernel is None or threading.current_thread() is not threading.main_thread():
        return
    saved = getattr(kernel, "saved_sigint_handler", None)
    if saved is None or saved is _on_idle_interrupt:
        return
    _state["previous"] = saved
    kernel.saved_sigint_handler = _on_idle_interrupt


def stop_all(reason: str = INTERRUPTED) -> None:
    for widget in list(_widgets):
        widget.stop_work(reason)


def _on_idle_interrupt(signum, frame):
    stop_all()
    previous = _state["previous"]
    if callable(previous):
        previous(signum, frame)


def _before_cell(info=None) -> None:
    _cells["started"] += 1
    _cells["running"] = True


def _after_cell(result) -> None:
    _cells["running"] = False
    if isinstance(getattr(result, "error_in_exec", None), KeyboardInterrupt):
        stop_all()
    for widget in list(_widgets):
        try:
            widget.check_weights()
        except Exception:  # noqa: BLE001 - a closed widget or a broken model must not break the cell
            pass
    arm_interrupt()


def _shell():
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return None
    try:
        return ipython.get_ipython()
    except Exception:  # noqa: BLE001
        return None
