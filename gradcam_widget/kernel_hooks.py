"""What open widgets learn from the IPython kernel they live in: a cell ran (the model's weights may
have changed: each widget checks and shows a stale indicator), and the kernel was interrupted (their
background work stops at its next batch).

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

_widgets: "weakref.WeakSet" = weakref.WeakSet()
_state = {"events": None, "previous": None}

#: What a widget's page says after its work was stopped by an interrupt.
INTERRUPTED = "Stopped: the kernel was interrupted. Pick a class, method or layer to compute again."


def watch(widget) -> None:
    """Have ``widget`` told about cells that ran and about interrupts (until it is closed)."""
    _widgets.add(widget)
    shell = _shell()
    if shell is None:
        return
    if _state["events"] is not shell.events:
        shell.events.register("post_run_cell", _after_cell)
        _state["events"] = shell.events
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


def _after_cell(result) -> None:
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

