"""Compiling the Keras backend's programs: tracing each once to a concrete function, counting traces, and
the background worker that compiles while the first calls run eagerly (TensorFlow)."""

from __future__ import annotations

import atexit
import queue
import threading
import weakref

import tensorflow as tf


class _Counted:
    """A traced body that counts its traces on its backend (Python code runs only while tracing).

    A callable object rather than a closure: TensorFlow groups retracing statistics by the function's
    code object, so closures of many backends would look like one function retracing and trigger
    its "excessive retracing" warning in the user's notebook.
    """

    def __init__(self, body, backend):
        self._body = body
        self._owner = weakref.ref(backend)

    def __call__(self, *args):
        owner = self._owner()
        if owner is not None and tf.inside_function():  # eager calls (compiled=False/"background") are not traces
            owner.trace_count += 1
        return self._body(*args)


def _compile(body, signature):
    """Trace ``body`` once for ``signature`` and return the concrete function: calls then skip the
    polymorphic dispatch (function-cache lookup and argument binding, ~0.2 ms a call). No autograph:
    the bodies have no tensor-dependent Python control flow, and converting every layer call costs
    ~15% of the trace."""
    return tf.function(body, input_signature=signature, reduce_retracing=True, autograph=False).get_concrete_function()


_COMPILE_WORKERS: "weakref.WeakSet[threading.Thread]" = weakref.WeakSet()


@atexit.register
def _join_compile_workers():
    """A daemon thread still inside TensorFlow when the interpreter exits aborts the process."""
    for worker in list(_COMPILE_WORKERS):
        worker.join(timeout=60)


def _compile_worker(owner_ref):
    """Trace queued functions and run each once on zeros (TensorFlow optimises a graph on its first run),
    then publish it; until then the backend runs the same body eagerly."""
    while True:
        owner = owner_ref()
        if owner is None:
            return
        try:
            key, body, signature = owner._compile_queue.get_nowait()
        except queue.Empty:
            return
        try:
            fn = _compile(body, signature)
            if all(d is not None for spec in signature for d in spec.shape[1:]):
                # Any-size models: no dummy run (a made-up size may be invalid); the first call optimises.
                fn(*[tf.zeros([1 if d is None else d for d in spec.shape], spec.dtype) for spec in signature])
        except Exception:  # noqa: BLE001 - the eager body keeps working; the error shows there, if real
            owner.functions[key] = body  # do not retry: stay eager for this function
            continue
        owner.functions[key] = fn
        del owner
