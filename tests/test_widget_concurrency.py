"""Slow methods run off the comm thread: later clicks supersede them, stale results are never sent."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from gradcam_widget import Explainer
from gradcam_widget.widget import GradCAMWidget
from engine_models import gap_classifier, random_image


class SlowExplainer:
    """Wraps an Explainer; Score-CAM batches wait on a gate so the test controls the timing."""

    def __init__(self, explainer):
        self._explainer = explainer
        self.gate = threading.Event()
        self.gate.set()
        self.finished = []

    def __getattr__(self, name):
        return getattr(self._explainer, name)

    def cam(self, image, class_index=None, method="gradcam", **kwargs):
        result = self._explainer.cam(image, class_index, method, **self._slowed(method, kwargs))
        self.finished.append(("cam", class_index, method))
        return result

    def cams(self, image, classes, method="gradcam", **kwargs):
        result = self._explainer.cams(image, classes, method, **self._slowed(method, kwargs))
        self.finished.append(("cams", tuple(classes), method))
        return result

    def _slowed(self, method, kwargs):
        if method != "scorecam":
            return kwargs
        user_cancel = kwargs.get("cancel")

        def cancel():
            self.gate.wait(5)
            time.sleep(0.01)
            return bool(user_cancel and user_cancel())

        return {**kwargs, "cancel": cancel}


@pytest.fixture()
def slow_widget():
    model = gap_classifier(num_classes=8)
    explainer = SlowExplainer(Explainer(model, scorecam_channels=16, batch_size=4))
    widget = GradCAMWidget(explainer, random_image(seed=3), top_k=3)
    sent = []
    widget.observe(lambda change: sent.append(dict(change["new"])), names="extra_map")
    statuses = []
    widget.observe(lambda change: statuses.append(dict(change["new"])), names="status")
    yield widget, explainer, sent, statuses
    widget.wait(10)


def _outside(widget, n=3):
    return [c for c in range(len(widget.class_names)) if c not in widget._top_indices][:n]


def test_clicks_during_a_slow_method_end_on_the_last_one(slow_widget):
    widget, explainer, sent, statuses = slow_widget
    a, b, c = _outside(widget)
    widget.method = "scorecam"  # the top-k batch starts in the background
    assert widget.busy
    explainer.gate.clear()  # hold the worker between batches
    widget.selected_class = a
    widget.selected_class = b
    widget.selected_class = c  # only this one should ever be sent
    explainer.gate.set()
    assert widget.wait(20)
    assert widget.selected_class == c
    scorecam_sent = [m for m in sent if m.get("method") == "scorecam"]
    assert [m["class_index"] for m in scorecam_sent] == [c]
    assert widget.status["state"] == "ready" and widget.status["class_index"] == c
    assert widget.maps[0]["method"] == "scorecam"
    # the superseded requests stopped early instead of finishing
    finished_scorecam = [classes for kind, classes, method in explainer.finished if method == "scorecam"]
    assert len(finished_scorecam) == 1
    assert c in finished_scorecam[0] and a not in finished_scorecam[0] and b not in finished_scorecam[0]


def test_progress_is_reported_while_computing(slow_widget):
    widget, explainer, sent, statuses = slow_widget
    k = _outside(widget, 1)[0]
    widget.method = "scorecam"
    assert widget.wait(20)
    widget.selected_class = k
    assert widget.wait(20)
    progress = [s["message"] for s in statuses if s["state"] == "computing" and s["message"]]
    assert any("masked passes" in m for m in progress)
    assert sent[-1]["class_index"] == k and sent[-1]["method"] == "scorecam"
    raw = np.frombuffer(sent[-1]["raw"], "<f4").reshape(sent[-1]["height"], sent[-1]["width"])
    expected = explainer._explainer.cam(widget._input, k, "scorecam")
    np.testing.assert_allclose(raw, expected.raw, rtol=1e-5, atol=1e-6)


def test_fast_method_after_slow_one_supersedes_it(slow_widget):
    widget, explainer, sent, statuses = slow_widget
    k = _outside(widget, 1)[0]
    explainer.gate.clear()
    widget.method = "scorecam"
    widget.method = "gradcam"  # answered at once; the Score-CAM batch must not overwrite it
    explainer.gate.set()
    assert widget.wait(20)
    assert widget.method == "gradcam" and widget.maps[0]["method"] == "gradcam"
    widget.selected_class = k
    assert sent[-1]["method"] == "gradcam" and sent[-1]["class_index"] == k
