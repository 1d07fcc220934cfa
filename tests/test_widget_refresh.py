"""The widget after the model changes, with hostile values from the page, interrupts and odd names
(issue 14). Driven as the page drives it: set_state() is what ipywidgets calls for a page message."""

from __future__ import annotations

import json
import threading
import time
import warnings

import keras
import numpy as np
import pytest
import traitlets
from engine_models import gap_classifier, random_image
from test_widget_state import FakeComm, _decode

from gradcam_widget import Explainer
from gradcam_widget.widget import GradCAMWidget, top_classes


def _model(seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(6, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(8, activation="relu", name="fc1")(x)
    return keras.Model(inputs, keras.layers.Dense(6, activation="softmax", name="out")(x))


def _train_one_epoch(model):
    rng = np.random.default_rng(3)
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy")
    model.fit(
        rng.uniform(0, 255, (16, 16, 16, 3)).astype("float32"),
        rng.integers(0, 6, 16),
        epochs=1,
        batch_size=8,
        verbose=0,
    )


def _assert_shows_the_weights_of(w, model, image):
    fresh = Explainer(model, compiled=False)
    scores = fresh.scores(image)
    top = top_classes(scores.probabilities, scores.logits, list(w.class_names), w.top_k)
    assert [t["index"] for t in w.top_classes] == [t["index"] for t in top]
    expected = fresh.cams(image, [t["index"] for t in top])
    for entry, cam in zip(w.maps, expected):
        np.testing.assert_array_equal(_decode(entry), cam.raw)
    np.testing.assert_array_equal(w.heatmap, fresh.cam(image, w.selected_class).normalized)


@pytest.fixture
def trained():
    model = _model()
    image = random_image(size=16, seed=5)
    ex = Explainer(model, compiled=False)
    w = GradCAMWidget(ex, image, top_k=3)
    w.comm = FakeComm(w.model_id)
    old_maps = [bytes(m["raw"]) for m in w.maps]
    outside = [c for c in range(6) if c not in w._top_indices]
    w.selected_class = outside[0]  # an on-demand map cached under the old weights
    w.selected_class = w._top_indices[0]
    assert not w.check_weights() and not w.stale
    _train_one_epoch(model)
    return model, image, ex, w, old_maps


def test_the_next_class_switch_after_training_shows_the_new_weights(trained):
    model, image, _, w, old_maps = trained
    assert w.check_weights() and w.stale  # what the page shows is out of date
    w.selected_class = w._top_indices[1]
    assert not w.stale
    assert [bytes(m["raw"]) for m in w.maps] != old_maps
    _assert_shows_the_weights_of(w, model, image)
    outside = next(c for c in range(6) if c not in w._top_indices)
    w.selected_class = outside
    np.testing.assert_array_equal(_decode(w.extra_map), Explainer(model, compiled=False).cam(image, outside).raw)


def test_refresh_and_a_new_widget_show_the_new_weights(trained):
    model, image, ex, w, _ = trained
    w.refresh()
    assert not w.stale
    _assert_shows_the_weights_of(w, model, image)
    _assert_shows_the_weights_of(GradCAMWidget(ex, image, top_k=3), model, image)


def test_refresh_from_the_page(trained):
    model, image, _, w, _ = trained
    w.check_weights()
    w._handle_custom_msg({"type": "refresh"}, [])
    assert not w.stale
    _assert_shows_the_weights_of(w, model, image)


def test_a_refresh_from_the_page_that_fails_shows_the_error_in_place_of_the_map(monkeypatch):
    w = GradCAMWidget(Explainer(_model()), random_image(16, seed=4), top_k=3)

    def broken():
        raise RuntimeError("the model file went away")

    monkeypatch.setattr(w, "refresh", broken)
    w._handle_custom_msg({"type": "refresh"}, [])
    assert w.status["state"] == "error"
    assert "the model file went away" in w.status["message"]
    assert w.status["class_index"] == w.selected_class and w.status["method"] == w.method
    w.close()


# ----------------------------------------------------------------------------- values from the page
REFUSED = [
    ("selected_class", -5),
    ("selected_class", 10**9),
    ("selected_class", None),
    ("selected_class", "3"),
    ("selected_class", 2.5),
    ("selected_class", True),
    ("opacity", 5),
    ("opacity", None),
    ("opacity", "0.5"),
    ("colormap", "nope"),
    ("colormap", None),
    ("method", None),
    ("method", 3),
    ("layer", None),
    ("trust_open", "yes"),
    ("maps", []),
    ("status", {"state": "ready"}),
    ("class_names", ["x"]),
]


@pytest.fixture
def widget():
    w = GradCAMWidget(Explainer(gap_classifier(num_classes=6), compiled=False), random_image(seed=1), top_k=3)
    w.comm = FakeComm(w.model_id)
    return w


@pytest.mark.parametrize("name, value", REFUSED)
def test_a_refused_page_value_is_answered_with_the_kernel_value(widget, name, value):
    before = json.loads(json.dumps(getattr(widget, name), default=repr))
    widget.comm.clear()
    widget.set_state({name: value})  # no exception: nothing for the log console
    assert json.loads(json.dumps(getattr(widget, name), default=repr)) == before
    answers = [state for state in widget.comm.updates() if name in state]
    assert answers, "the page must get the kernel's value back"
    if name not in ("maps",):
        assert answers[-1][name] == before
    assert name in widget.notice and len(widget.notice) < 400
    # the next valid value from the page works and clears the notice
    k = next(c for c in widget._top_indices if c != widget.selected_class)
    widget.set_state({"selected_class": k})
    assert widget.selected_class == k and widget.notice == ""
    assert widget.status["state"] == "ready"


def test_valid_and_refused_values_in_one_message(widget):
    widget.set_state({"opacity": 0.7, "colormap": "nope"})
    assert widget.opacity == 0.7 and widget.colormap == "jet" and "colormap" in widget.notice


def test_python_side_bad_values_still_raise(widget):
    for name, value in [
        ("selected_class", -5),
        ("selected_class", "3"),
        ("opacity", 5),
        ("colormap", "nope"),
        ("method", None),
    ]:
        with pytest.raises(traitlets.TraitError):
            setattr(widget, name, value)


# ----------------------------------------------------------------------------- interrupt, close
class _Gated:
    """An explainer whose Score-CAM batches wait for the test, so it controls where work is."""

    def __init__(self, inner):
        self.inner, self.gate, self.batches = inner, threading.Event(), 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def _hooks(self, kwargs):
        cancel = kwargs.get("cancel")

        def gated():
            self.batches += 1
            self.gate.wait(10)
            return bool(cancel and cancel())

        return {**kwargs, "cancel": gated} if cancel else kwargs

    def cam(self, image, k=None, method="gradcam", **kwargs):
        return self.inner.cam(image, k, method, **self._hooks(kwargs))

    def cams(self, image, ks, method="gradcam", **kwargs):
        return self.inner.cams(image, ks, method, **self._hooks(kwargs))


@pytest.mark.parametrize("how", ["interrupt", "close"])
def test_background_work_stops_within_one_batch(how):
    from gradcam_widget import kernel_hooks

    ex = _Gated(Explainer(gap_classifier(num_classes=6), scorecam_channels=None, batch_size=1, compiled=False))
    w = GradCAMWidget(ex, random_image(seed=2), top_k=2)
    w.method = "scorecam"  # the top-k batch on a worker, one channel a batch
    deadline = time.monotonic() + 10
    while ex.batches < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    worker = w._map_job.thread
    if how == "interrupt":
        kernel_hooks.stop_all()  # what an interrupt of the kernel does
    else:
        w.close()
    at_stop = ex.batches
    ex.gate.set()
    worker.join(10)
    assert not worker.is_alive()
    assert ex.batches - at_stop <= 1  # at most the batch that was waiting
    assert ex.inner.masked_pass_count < 8  # 8 channels: it never finished
    if how == "interrupt":
        assert w.status["state"] == "error" and "interrupted" in w.status["message"]
        w.method = "gradcam"  # and the widget still works
        assert w.status["state"] == "ready"


# ----------------------------------------------------------------------------- names
def test_invalid_unicode_in_names_is_replaced_with_a_warning(widget):
    names = [f"class {i}" for i in range(6)]
    names[2] = "bad \udcff name"
    with pytest.warns(UserWarning, match=r"class_names\[2\] contains invalid Unicode"):
        w = GradCAMWidget(widget.explainer, random_image(seed=1), class_names=names, top_k=3)
    assert w.class_names[2] == "bad \ufffd name"
    json.dumps(w.get_state(), default=lambda b: None).encode("utf-8")  # the state can be sent
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        GradCAMWidget(widget.explainer, random_image(seed=1), class_names=[f"c{i}" for i in range(6)], top_k=3)


# ----------------------------------------------------------------------------- in a kernel
class _Events:
    def __init__(self):
        self.callbacks = {}

    def register(self, name, fn):
        self.callbacks.setdefault(name, []).append(fn)


class _Shell:
    def __init__(self):
        import signal

        self.events = _Events()
        self.kernel = type("Kernel", (), {"saved_sigint_handler": signal.SIG_IGN})()


@pytest.fixture
def shell(monkeypatch):
    from gradcam_widget import kernel_hooks

    fake = _Shell()
    monkeypatch.setattr(kernel_hooks, "_shell", lambda: fake)
    monkeypatch.setattr(kernel_hooks, "_state", {"events": None, "previous": None})
    monkeypatch.setattr(kernel_hooks, "_cells", {"started": 0, "running": False})
    return fake


def _run_cell(shell, code):
    for fn in shell.events.callbacks["pre_run_cell"]:
        fn(None)
    error = None
    try:
        code()
    except KeyboardInterrupt as err:
        error = err
    result = type("Result", (), {"error_in_exec": error})()
    for fn in shell.events.callbacks["post_run_cell"]:
        fn(result)


def test_a_cell_that_trains_marks_the_widget_stale_and_calls_inside_cells_check(shell):
    model = _model()
    image = random_image(size=16, seed=5)
    ex = Explainer(model, compiled=False)
    w = GradCAMWidget(ex, image, top_k=3)
    assert not w.stale
    kernel = model.layers[-1].kernel

    def set_and_explain():  # inside one cell: the explainer checks at every call
        kernel.assign(np.asarray(kernel) * -2.0)
        np.testing.assert_array_equal(ex.cam(image, 1).raw, Explainer(model, compiled=False).cam(image, 1).raw)

    _run_cell(shell, set_and_explain)
    assert w.stale  # checked after the cell
    w.refresh()
    assert not w.stale
    _assert_shows_the_weights_of(w, model, image)
    _run_cell(shell, lambda: None)  # a cell that changes nothing
    assert not w.stale
    kernel.assign(np.asarray(kernel) * 0.5)  # outside a cell (a widget callback), by hand
    w.refresh()  # reads the weights whatever ran
    _assert_shows_the_weights_of(w, model, image)


def test_interrupts_stop_widget_work(shell):
    import signal

    from gradcam_widget import kernel_hooks

    ex = _Gated(Explainer(gap_classifier(num_classes=6), scorecam_channels=None, batch_size=1, compiled=False))
    w = GradCAMWidget(ex, random_image(seed=2), top_k=2)
    assert shell.kernel.saved_sigint_handler is kernel_hooks._on_idle_interrupt  # the idle handler is ours
    w.method = "scorecam"
    worker = w._map_job.thread
    kernel_hooks._on_idle_interrupt(signal.SIGINT, None)  # SIGINT while the kernel is idle
    ex.gate.set()
    worker.join(10)
    assert not worker.is_alive() and "interrupted" in w.status["message"]
    ex.gate.clear()
    w.method = "gradcam"
    w.method = "scorecam"
    worker = w._map_job.thread

    def interrupted_cell():
        raise KeyboardInterrupt

    _run_cell(shell, interrupted_cell)  # an interrupt while a cell runs
    ex.gate.set()
    worker.join(10)
    assert not worker.is_alive() and "interrupted" in w.status["message"]


def test_topk_and_trust_strip_share_one_set_of_scorecam_passes():
    ex = Explainer(gap_classifier(num_classes=6), scorecam_channels=6, batch_size=4, compiled=False)
    w = GradCAMWidget(ex, random_image(seed=3), top_k=3)
    w.method = "scorecam"  # the top-3 and the selection: one set of passes
    assert w.wait(60)
    assert ex.masked_pass_count == 6
    outside = next(c for c in range(6) if c not in w._top_indices)
    w.selected_class = outside  # another class: read from the same passes
    assert w.wait(60) and w.extra_map["class_index"] == outside
    w.method = "gradcam"
    w.open_trust_panel(scorecam=True)  # the strip's Score-CAM thumbnail: the same passes too
    assert w.wait(120)
    assert [s["label"] for s in w.trust["strip"]][-1] == "Score-CAM"
    assert ex.masked_pass_count == 6
