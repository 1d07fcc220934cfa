"""GradCAMWidget state, driven as the browser drives it: set traits, read the replies (no browser).

A spy around the Explainer counts engine calls; a fake comm records the messages the kernel would
send, so "free" switches and batched writes are checked on the wire, not just in the traits.
"""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
import traitlets
from PIL import Image

import keras  # noqa: E402

from ipywidgets.widgets.widget import _remove_buffers  # noqa: E402

from gradcam_widget import METHODS, colormaps  # noqa: E402
from gradcam_widget.explain import Explainer, compute_cam  # noqa: E402
from gradcam_widget.frontend import static_file  # noqa: E402
from gradcam_widget.widget import GradCAMWidget, show_gradcam  # noqa: E402

NUM_CLASSES = 10
TOP_K = 3


# ----------------------------------------------------------------------------- fixtures
def _tiny_model(num_classes: int = NUM_CLASSES, seed: int = 0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="conv_a")(inputs)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="conv_b")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="head")(x)
    return keras.Model(inputs, outputs, name="tiny")


@pytest.fixture(scope="module")
def model():
    return _tiny_model()


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(1)
    # Not square, so width/height mix-ups show.
    return rng.integers(0, 256, size=(40, 56, 3), dtype=np.uint8)


class Spy:
    """Wraps an Explainer: counts engine calls and can make the next ones fail."""

    def __init__(self, inner):
        self.inner = inner
        self.calls: list[tuple] = []
        self.fail_next: Exception | None = None

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def _maybe_fail(self):
        if self.fail_next is not None:
            err, self.fail_next = self.fail_next, None
            raise err

    def cam(self, image, class_index, method="gradcam", *, layer=None):
        self.calls.append(("cam", int(class_index), method, layer))
        self._maybe_fail()
        return self.inner.cam(image, class_index, method, layer=layer)

    def cams(self, image, class_indices, method="gradcam", *, layer=None):
        self.calls.append(("cams", tuple(int(c) for c in class_indices), method, layer))
        self._maybe_fail()
        return self.inner.cams(image, class_indices, method, layer=layer)

    def engine_calls(self):
        return [c for c in self.calls if c[0] in ("cam", "cams")]


class FakeComm:
    """Stands in for the kernel comm and records what would go over the wire."""

    kernel = object()

    def __init__(self, comm_id: str):
        self.comm_id = comm_id
        self.sent: list[tuple[dict, list]] = []

    def on_msg(self, callback):
        pass

    def send(self, data=None, metadata=None, buffers=None):
        self.sent.append((data, list(buffers or [])))

    def close(self, *args, **kwargs):
        pass

    def updates(self):
        """State dicts of the 'update' messages, with buffers put back in place."""
        out = []
        for msg, buffers in self.sent:
            if msg.get("method") != "update":
                continue
            state = json.loads(json.dumps(msg["state"]))
            for path, buf in zip(msg["buffer_paths"], buffers):
                target = state
                for part in path[:-1]:
                    target = target[part]
                target[path[-1]] = bytes(buf)
            out.append(state)
        return out

    def clear(self):
        self.sent.clear()


@pytest.fixture(scope="module")
def explainer(model):
    return Explainer(model)  # shared: compiled once, as a user reusing one Explainer would


@pytest.fixture
def spy(explainer):
    return Spy(explainer)


@pytest.fixture
def widget(spy, image):
    w = GradCAMWidget(spy, image, top_k=TOP_K)
    w.comm = FakeComm(w.model_id)
    return w


def _outside(w, n=1):
    top = {t["index"] for t in w.top_classes}
    return [k for k in range(NUM_CLASSES) if k not in top][:n]


def _decode(entry) -> np.ndarray:
    return np.frombuffer(entry["raw"], dtype="<f4").reshape(entry["height"], entry["width"])


# ----------------------------------------------------------------------------- construction
def test_construction_sends_topk_maps_in_one_batched_call(widget, spy, explainer, image):
    top = [t["index"] for t in widget.top_classes]
    assert spy.engine_calls() == [("cams", tuple(top), "gradcam", explainer.layer_name)]
    assert [m["class_index"] for m in widget.maps] == top
    for entry in widget.maps:
        assert entry["method"] == "gradcam" and entry["layer"] == explainer.layer_name
        expected = explainer.cam(image, entry["class_index"], "gradcam")
        np.testing.assert_allclose(_decode(entry), expected.raw, rtol=1e-5, atol=1e-7)
        assert entry["maximum"] == pytest.approx(float(expected.maximum), rel=1e-5)
        assert entry["has_evidence"] == bool(expected.has_evidence)
    assert widget.extra_map == {}


def test_top_classes_follow_the_probabilities(widget, explainer, image):
    probs = explainer.scores(image).probabilities
    expected = list(np.argsort(-probs, kind="stable")[:TOP_K])
    assert [t["index"] for t in widget.top_classes] == expected
    assert [t["probability"] for t in widget.top_classes] == pytest.approx([probs[i] for i in expected])
    assert widget.top_classes[0]["name"] == f"class {expected[0]}"
    assert widget.selected_class == expected[0]
    assert widget.status["state"] == "ready" and widget.status["class_index"] == expected[0]


def test_static_traits(widget, explainer, image):
    png = Image.open(io.BytesIO(widget.image))
    assert png.format == "PNG" and png.size == (56, 40)
    assert widget.image_size == [56, 40]
    np.testing.assert_array_equal(np.asarray(png.convert("RGB")), image)
    assert widget.methods == list(METHODS)
    assert widget.layers == list(explainer.candidate_layers)
    assert widget.layer == explainer.layer_name
    assert widget.class_names == [f"class {i}" for i in range(NUM_CLASSES)]
    assert set(widget.colormap_tables) == set(colormaps.COLORMAPS)
    assert widget.colormap_tables["viridis"] == colormaps.colormap_bytes("viridis")


def test_large_image_is_capped_for_display(explainer):
    big = np.zeros((300, 2048, 3), dtype=np.uint8)
    w = GradCAMWidget(explainer, big, top_k=1)
    assert w.image_size == [1024, 150]
    assert Image.open(io.BytesIO(w.image)).size == (1024, 150)


def test_initial_state_is_complete_for_an_html_export(widget):
    """Saved widget state (embed) must carry the image and maps: the view renders from it alone."""
    from ipywidgets.embed import embed_data

    data = embed_data(views=[widget], state=type(widget).get_manager_state(widgets=[widget])["state"])
    state = data["manager_state"]["state"][widget.model_id]
    paths = [tuple(b["path"]) for b in state["buffers"]]
    assert ("image",) in paths
    assert all(("maps", i, "raw") in paths for i in range(TOP_K))
    assert state["state"]["status"]["state"] == "ready"
    json.dumps(data)  # all of it is JSON-serialisable


def test_user_model_is_not_mutated(model, image):
    weights = [w.copy() for w in model.get_weights()]
    names = [layer.name for layer in model.layers]
    w = show_gradcam(model, image, top_k=2)
    w.selected_class = _outside(w)[0]
    w.method = "gradcam++"
    assert [layer.name for layer in model.layers] == names
    for before, after in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(before, after)


# ----------------------------------------------------------------------------- selection
def test_switching_within_topk_costs_no_engine_call(widget, spy):
    spy.calls.clear()
    widget.comm.clear()
    for t in reversed(widget.top_classes):
        widget.set_state({"selected_class": t["index"]})  # the browser's path
        assert widget.status == {
            "state": "ready",
            "message": "",
            "class_index": t["index"],
            "method": "gradcam",
            "layer": widget.layer,
        }
    assert spy.engine_calls() == []
    sent_keys = {k for state in widget.comm.updates() for k in state}
    assert sent_keys == {"status"}  # no maps re-sent


def test_outside_class_gets_one_tagged_extra_map(widget, spy, explainer, image):
    k = _outside(widget)[0]
    spy.calls.clear()
    widget.comm.clear()
    widget.set_state({"selected_class": k})
    assert spy.engine_calls() == [("cam", k, "gradcam", explainer.layer_name)]
    extra = widget.extra_map
    assert (extra["class_index"], extra["method"], extra["layer"]) == (k, "gradcam", explainer.layer_name)
    expected = explainer.cam(image, k, "gradcam")
    np.testing.assert_allclose(_decode(extra), expected.raw, rtol=1e-5, atol=1e-7)
    assert (extra["height"], extra["width"]) == expected.raw.shape
    assert widget.status["state"] == "ready" and widget.status["class_index"] == k
    updates = widget.comm.updates()
    # A fast method answers within the click: the map and the ready status in one message, with no
    # "computing" status before it (the browser could never draw it; slow methods still send one).
    assert len(updates) == 1 and set(updates[0]) == {"extra_map", "status"}
    assert updates[0]["extra_map"]["raw"] == extra["raw"]


def test_revisiting_an_outside_class_uses_the_cache(widget, spy):
    a, b = _outside(widget, 2)
    widget.selected_class = a
    widget.selected_class = b
    spy.calls.clear()
    widget.selected_class = a
    assert spy.engine_calls() == []
    assert widget.extra_map["class_index"] == a  # re-sent for views that never saw it


def test_last_of_rapid_selections_wins(widget, spy, explainer, image):
    rng = np.random.default_rng(7)
    picks = [int(k) for k in rng.integers(0, NUM_CLASSES, size=20)]
    picks[-1] = _outside(widget)[-1]
    for k in picks:
        widget.set_state({"selected_class": k})
    last = picks[-1]
    assert widget.selected_class == last
    assert widget.extra_map["class_index"] == last
    assert widget.status["class_index"] == last and widget.status["state"] == "ready"
    np.testing.assert_allclose(widget.heatmap, explainer.cam(image, last, "gradcam").normalized, rtol=1e-5, atol=1e-6)
    last_update = widget.comm.updates()[-1]
    assert last_update["status"]["class_index"] == last


def test_python_side_selection_is_synced_to_the_browser(widget):
    k = widget.top_classes[1]["index"]
    widget.comm.clear()
    widget.selected_class = k
    assert any(state.get("selected_class") == k for state in widget.comm.updates())


# ----------------------------------------------------------------------------- method / layer
def test_method_change_recomputes_the_topk_batch(widget, spy):
    top = tuple(t["index"] for t in widget.top_classes)
    spy.calls.clear()
    widget.set_state({"method": "hirescam"})
    assert spy.engine_calls() == [("cams", top, "hirescam", widget.layer)]
    assert [m["method"] for m in widget.maps] == ["hirescam"] * TOP_K
    assert widget.status["state"] == "ready" and widget.status["method"] == "hirescam"


def test_layer_change_includes_an_outside_selection_in_the_batch(widget, spy, explainer, image):
    k = _outside(widget)[0]
    widget.selected_class = k
    other = [n for n in explainer.candidate_layers if n != widget.layer][0]
    top = tuple(t["index"] for t in widget.top_classes)
    spy.calls.clear()
    widget.layer = other
    assert spy.engine_calls() == [("cams", top + (k,), "gradcam", other)]
    assert [m["layer"] for m in widget.maps] == [other] * TOP_K
    assert (widget.extra_map["class_index"], widget.extra_map["layer"]) == (k, other)
    np.testing.assert_allclose(
        _decode(widget.extra_map), explainer.cam(image, k, "gradcam", layer=other).raw, rtol=1e-5, atol=1e-7
    )


def test_switching_back_to_a_seen_method_uses_the_cache(widget, spy):
    widget.method = "layercam"
    spy.calls.clear()
    widget.method = "gradcam"
    assert spy.engine_calls() == []
    assert [m["method"] for m in widget.maps] == ["gradcam"] * TOP_K


def test_method_and_layer_changed_together_compute_once(widget, spy, explainer):
    other = [n for n in explainer.candidate_layers if n != widget.layer][0]
    spy.calls.clear()
    widget.set_state({"method": "xgradcam", "layer": other})
    assert [c[2:] for c in spy.engine_calls()] == [("xgradcam", other)]


# ----------------------------------------------------------------------------- errors
def test_engine_error_becomes_status_and_the_widget_recovers(widget, spy):
    a, b = _outside(widget, 2)
    spy.fail_next = ValueError("class 3 is broken; try another")
    widget.set_state({"selected_class": a})
    assert widget.status == {
        "state": "error",
        "message": "class 3 is broken; try another",
        "class_index": a,
        "method": "gradcam",
        "layer": widget.layer,
    }
    assert isinstance(widget.last_error, ValueError)
    widget.set_state({"selected_class": b})
    assert widget.status["state"] == "ready" and widget.extra_map["class_index"] == b
    assert widget.last_error is None
    widget.set_state({"selected_class": a})  # the failed class is retried, not cached
    assert widget.status["state"] == "ready" and widget.extra_map["class_index"] == a


def test_unknown_method_shows_the_engine_message(widget):
    widget.set_state({"method": "no-such-method"})
    assert widget.status["state"] == "error"
    assert "no-such-method" in widget.status["message"]
    assert widget.status["method"] == "no-such-method"
    widget.set_state({"method": "gradcam"})
    assert widget.status["state"] == "ready"


def test_bad_layer_then_selection_retries_and_reports_again(widget, spy):
    good = widget.layer
    widget.layer = "nope"
    assert widget.status["state"] == "error" and "nope" in widget.status["message"]
    spy.calls.clear()
    widget.selected_class = widget.top_classes[1]["index"]
    assert spy.engine_calls() and widget.status["state"] == "error"
    widget.layer = good
    assert widget.status["state"] == "ready"
    assert [m["layer"] for m in widget.maps] == [good] * TOP_K


def test_unexpected_engine_error_names_its_type(widget, spy):
    spy.fail_next = RuntimeError("out of memory")
    widget.selected_class = _outside(widget)[0]
    assert widget.status["message"] == "RuntimeError: out of memory"


# ----------------------------------------------------------------------------- Python API
@pytest.mark.parametrize("which", ["top", "outside"])
def test_heatmap_equals_compute_cam(widget, model, image, which):
    k = widget.top_classes[1]["index"] if which == "top" else _outside(widget)[0]
    widget.selected_class = k
    expected = compute_cam(model, image, class_index=k, layer=widget.layer, method="gradcam")[0]
    assert widget.heatmap.dtype == np.float32
    np.testing.assert_allclose(widget.heatmap, expected, rtol=1e-5, atol=1e-6)


def test_heatmap_is_a_copy(widget):
    widget.heatmap[:] = 5
    assert widget.heatmap.max() <= 1.0


def test_heatmap_computes_after_a_failed_selection(widget, spy, explainer, image):
    k = _outside(widget)[0]
    spy.fail_next = ValueError("transient")
    widget.selected_class = k
    np.testing.assert_allclose(widget.heatmap, explainer.cam(image, k, "gradcam").normalized, rtol=1e-5, atol=1e-6)


def test_to_png_matches_the_numpy_reference(widget, tmp_path, image):
    widget.selected_class = _outside(widget)[0]
    widget.colormap = "inferno"
    widget.opacity = 0.7
    path = tmp_path / "overlay.png"
    data = widget.to_png(path)
    assert path.read_bytes() == data
    pixels = np.asarray(Image.open(path).convert("RGB"))
    expected = colormaps.overlay(image, widget.heatmap, "inferno", 0.7)
    np.testing.assert_array_equal(pixels, expected)
    assert not np.array_equal(pixels, colormaps.overlay(image, widget.heatmap, "jet", 0.7))


def test_to_png_without_path_only_returns_bytes(widget, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert widget.to_png()[:8] == b"\x89PNG\r\n\x1a\n"
    assert list(tmp_path.iterdir()) == []


def test_repr_mimebundle_has_a_png_fallback(widget, image):
    from gradcam_widget import static_view

    data, _ = widget._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data
    assert data["application/vnd.jupyter.widget-view+json"]["model_id"] == widget.model_id
    assert "GradCAMWidget" in data["text/plain"] and "gradcam" in data["text/plain"]
    png = np.asarray(Image.open(io.BytesIO(base64.b64decode(data["image/png"]))).convert("RGB"))
    # Drawn at the size the widget displays (56x40 is shown at 256 px wide), not the image's own.
    assert png.shape == (183, 256, 3)
    np.testing.assert_array_equal(png, static_view.picture(image, widget.heatmap, widget.colormap, widget.opacity))
    assert f'src="data:image/png;base64,{data["image/png"]}"' in data["text/html"]


def test_repr_mimebundle_survives_an_engine_error(widget, spy):
    spy.fail_next = ValueError("broken")
    widget.selected_class = _outside(widget)[0]
    spy.fail_next = ValueError("still broken")
    data, _ = widget._repr_mimebundle_()
    assert "text/plain" in data and "image/png" not in data and "text/html" not in data


# ----------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"top_k": 0}, r"top_k must be between 1 and the number of classes \(10\)"),
        ({"top_k": 11}, r"top_k must be between 1 .*got 11"),
        ({"opacity": 1.5}, r"opacity must be a number in \[0, 1\]"),
        ({"opacity": -0.1}, r"opacity"),
        ({"colormap": "rainbow"}, r"unknown colormap 'rainbow'; use one of: jet"),
        ({"class_names": ["a", "b"]}, r"2 names but the model has 10 classes"),
        ({"method": "gradcam2"}, r"unknown method 'gradcam2'; use one of: gradcam"),
    ],
)
def test_constructor_rejects_bad_arguments(explainer, image, kwargs, match):
    with pytest.raises(ValueError, match=match):
        GradCAMWidget(explainer, image, **kwargs)


def test_out_of_range_selection_is_rejected_and_the_old_value_kept(widget, spy):
    before = widget.selected_class
    spy.calls.clear()
    for bad in (NUM_CLASSES, -1):
        with pytest.raises(traitlets.TraitError, match=r"out of range: the model has 10 classes \(0..9\)"):
            widget.selected_class = bad
        assert widget.selected_class == before
    widget.set_state({"selected_class": 99})  # from the page: refused with a notice, never raised
    assert widget.selected_class == before and "out of range" in widget.notice
    assert spy.engine_calls() == []


def test_display_traits_are_validated_and_cost_no_engine_call(widget, spy):
    spy.calls.clear()
    widget.opacity = 0.0
    widget.colormap = "turbo"
    with pytest.raises(traitlets.TraitError, match="opacity"):
        widget.opacity = 2.0
    with pytest.raises(traitlets.TraitError, match="unknown colormap"):
        widget.colormap = "hot"
    assert (widget.opacity, widget.colormap) == (0.0, "turbo")
    assert spy.engine_calls() == []


# ----------------------------------------------------------------------------- show_gradcam
def test_show_gradcam_reuses_an_explainer(explainer, image):
    w = show_gradcam(
        explainer, image, top_k=2, class_names=[f"c{i}" for i in range(NUM_CLASSES)], colormap="viridis", opacity=0.25
    )
    assert w.explainer is explainer
    assert w.top_classes[0]["name"] == f"c{w.top_classes[0]['index']}"
    assert (w.colormap, w.opacity, len(w.maps)) == ("viridis", 0.25, 2)


def test_show_gradcam_refuses_preprocess_with_an_explainer(explainer, image):
    with pytest.raises(ValueError, match="preprocess"):
        show_gradcam(explainer, image, preprocess=lambda x: x)


def test_show_gradcam_passes_layer_and_preprocess(model, image, explainer):
    layer = explainer.candidate_layers[0]
    w = show_gradcam(model, image, layer=layer, method="gradcam++", preprocess=lambda x: x / 255.0)
    assert w.layer == layer and w.method == "gradcam++"
    assert {m["layer"] for m in w.maps} == {layer}


def test_1000_class_model_gets_imagenet_names(image):
    w = show_gradcam(_tiny_model(1000, seed=3), image, top_k=2)
    assert len(w.class_names) == 1000
    assert w.class_names[:2] == ["tench", "goldfish"]


def test_front_end_files_are_found():
    esm = static_file("gradcam.js")
    assert esm is not None and esm.name == "gradcam.js"
    assert static_file("gradcam.css") is not None
    source = str(GradCAMWidget._esm)
    assert "export default" in source and "missing from this installation" not in source


# ----------------------------------------------------------------------------- payload size
def _message_bytes(state: dict) -> int:
    stripped, _, buffers = _remove_buffers(state)
    return len(json.dumps(stripped, separators=(",", ":"))) + sum(len(b) for b in buffers)


def test_bytes_per_class_switch(widget, capsys):
    k = _outside(widget)[0]
    widget.comm.clear()
    widget.selected_class = k
    total = sum(_message_bytes(state) for state in widget.comm.updates())
    h, w = widget.extra_map["height"], widget.extra_map["width"]
    raw = h * w * 4
    # The map travels as raw float32 bytes (not base64/JSON numbers); the rest is a small header.
    assert len(widget.extra_map["raw"]) == raw
    assert total < raw + 700
    with capsys.disabled():
        print(
            f"\n[bytes per class switch] {h}x{w} map: {raw} B raw, {total} B on the wire (extra_map + status messages)"
        )
    widget.comm.clear()
    widget.selected_class = widget.top_classes[1]["index"]
    within = sum(_message_bytes(state) for state in widget.comm.updates())
    assert within < 300
    with capsys.disabled():
        print(f"[bytes per class switch] within top-k: {within} B (status only)")


def test_default_top_k_is_five_or_every_class(explainer, image, model):
    assert GradCAMWidget(explainer, image).top_k == 5
    few = Explainer(_tiny_model(3, seed=2))
    w = GradCAMWidget(few, image)
    assert w.top_k == 3 and len(w.maps) == 3
    with pytest.raises(ValueError, match="top_k must be between 1 and the number of classes"):
        GradCAMWidget(few, image, top_k=5)


def test_never_called_sequential_model_works(image):
    keras.utils.set_random_seed(4)
    seq = keras.Sequential(
        [
            keras.layers.Conv2D(4, 3, activation="relu", name="c"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(3),
        ]
    )
    w = show_gradcam(seq, image)
    assert w.top_k == 3 and w.layer == "c" and w.status["state"] == "ready"
