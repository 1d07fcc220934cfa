"""The kernel half of the what-if brush: the latest edit of a widget, rescored on a worker thread.

The page sends the whole edit (every stroke and the fill) each time, so an edit never depends on the
ones before it. Edits arriving while one is being rescored only replace the waiting one: the worker
takes the newest when it is free, so a thousand strokes in a second cost a few rescorings and the
last edit always wins. The pixels are filled by :mod:`gradcam_widget.whatif`; the model then gets the
edited image exactly as it got the original (the same ``explainer.prepare``).
"""

from __future__ import annotations

import threading

import numpy as np

from . import images as imgs
from . import whatif


class EditSession:
    """One widget's edit: the source image, the newest edit waiting, and the last one applied."""

    def __init__(self, widget, image):
        self._widget = widget
        try:
            self._source = imgs.load(image)
        except (TypeError, ValueError):
            self._source = None  # e.g. a PreparedImage: the brush then says it cannot edit it
        self.original = widget._input
        self.mask: np.ndarray | None = None
        self.edited: np.ndarray | None = None
        self._pending = None
        self._wake = threading.Condition()
        self._idle = True  # no edit waiting or being applied
        self._closed = False
        self._thread: threading.Thread | None = None

    @property
    def source_values(self) -> np.ndarray | None:
        return None if self._source is None else self._source.values

    def submit(self, edit) -> None:
        """Take a new edit (any thread); rescoring happens on the worker, newest edit first."""
        with self._wake:
            if self._closed:
                return
            self._pending = dict(edit) if isinstance(edit, dict) else edit
            self._idle = False
            if self._thread is None:  # one long-lived worker: TensorFlow sets up once per thread
                self._thread = threading.Thread(target=self._loop, name="gradcam-widget-edit", daemon=True)
                self._thread.start()
            self._wake.notify_all()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until every edit submitted so far has been applied; False on timeout."""
        with self._wake:
            return self._wake.wait_for(lambda: self._idle, timeout)

    @property
    def busy(self) -> bool:
        return not self._idle

    def _superseded(self) -> bool:
        return self._pending is not None

    def close(self) -> None:
        """Stop the worker (after the edit it is applying); a closed widget's session edits nothing."""
        with self._wake:
            self._closed, self._pending = True, None
            self._wake.notify_all()

    def _loop(self) -> None:
        while True:
            with self._wake:
                while self._pending is None and not self._closed:
                    self._idle = True
                    self._wake.notify_all()
                    self._wake.wait()
                if self._closed:
                    self._idle, self._thread = True, None
                    self._wake.notify_all()
                    return
                edit, self._pending = self._pending, None
            self._apply(edit)

    def _apply(self, edit) -> None:
        widget = self._widget
        seq = edit.get("seq") if isinstance(edit, dict) else None
        try:
            strokes, fill = whatif.check_edit(edit)
            if self._source is None:
                raise TypeError("this image cannot be edited here (pass the image itself, not a PreparedImage).")
            values = self._source.values
            if not strokes:
                if not self._superseded():
                    self.mask, self.edited = None, None
                    widget._rescore(self.original, False)
                    widget._edit_done(seq, "ready", "", 0.0)
                return
            mask = whatif.strokes_mask(strokes, values.shape[0], values.shape[1])
            edited = whatif.apply_fill(values, mask, fill, **self._value_rules())
            if self._superseded():
                return  # a newer edit is waiting: the model never sees this one
            source = imgs.ImageInput(edited, self._source.kind, self._source.alpha)
            prepared = widget.explainer.prepare(source)
            widget._rescore(prepared, True)
            self.mask, self.edited = mask, edited
            widget._edit_done(seq, "ready", "", float(mask.mean()))
        except Exception as err:  # noqa: BLE001 - shown next to the brush; the widget stays usable
            if not self._superseded():
                widget._edit_done(seq, "error", _message(err), 0.0)

    def _value_rules(self) -> dict:
        """Pictures and integer arrays are filled with whole values in 0..255 (a picture) or their own
        range; float arrays keep their own scale."""
        if self._source.kind == imgs.PICTURE:
            return {"limits": (0.0, 255.0), "integral": True}
        return {"integral": self._source.kind == imgs.INTEGER}


def _message(err: Exception) -> str:
    text = str(err).strip()
    return text if isinstance(err, (TypeError, ValueError)) and text else f"{type(err).__name__}: {text}"
