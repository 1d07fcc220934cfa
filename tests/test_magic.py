"""``%gradcam`` through a real IPython InteractiveShell: names are looked up, never evaluated."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import keras  # noqa: E402

from IPython.core.error import UsageError  # noqa: E402
from IPython.core.interactiveshell import InteractiveShell  # noqa: E402

from gradcam_widget.magic import load_ipython_extension  # noqa: E402
from gradcam_widget.widget import GradCAMWidget  # noqa: E402


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((24, 24, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(4, activation="softmax")(x)
    return keras.Model(inputs, outputs)


@pytest.fixture
def shell(model):
    ip = InteractiveShell.instance()
    load_ipython_extension(ip)
    rng = np.random.default_rng(0)
    names = {
        "model": model,
        "img": rng.integers(0, 256, size=(24, 24, 3), dtype=np.uint8),
        "labels": ["cat", "dog", "fox", "owl"],
        "data": SimpleNamespace(image=rng.integers(0, 256, size=(20, 30, 3), dtype=np.uint8)),
        "halve": lambda batch: batch / 2.0,
        "centred": rng.normal(0, 1, size=(24, 24, 3)).astype(np.float32),  # already preprocessed
        "original": rng.integers(0, 256, size=(24, 24, 3), dtype=np.uint8),
    }
    ip.user_ns.update(names)
    yield ip
    for name in names:
        ip.user_ns.pop(name, None)


def test_magic_returns_the_widget_with_defaults(shell):
    w = shell.run_line_magic("gradcam", "model img")
    assert isinstance(w, GradCAMWidget)
    # Default top-k is 5, or every class for a model with fewer (this one has 4).
    assert (w.method, w.colormap, w.opacity, w.top_k) == ("gradcam", "jet", 0.4, 4)
    assert w.class_names == ["class 0", "class 1", "class 2", "class 3"]


def test_magic_follows_the_input_rule(shell, model):
    """The array reaches the model as model.predict gets it; --display-image only changes the picture."""
    x = shell.user_ns["centred"]
    expected = np.asarray(model.predict(x[None], verbose=0))[0]
    for line, note in (("model centred", "min-max"), ("model centred --display-image original", "")):
        w = shell.run_line_magic("gradcam", line)
        got = {t["index"]: t["probability"] for t in w.top_classes}
        np.testing.assert_allclose([got[k] for k in range(4)], expected, atol=1e-5)
        assert (note in w.image_note) if note else w.image_note == ""
    np.testing.assert_array_equal(w.display_image, shell.user_ns["original"])


def test_magic_options_reach_the_widget(shell):
    line = (
        "model data.image --top-k 2 --method hirescam --layer conv --colormap viridis "
        "--opacity 0.25 --class-names labels --preprocess halve"
    )
    w = shell.run_line_magic("gradcam", line)
    assert (w.method, w.layer, w.colormap, w.opacity, w.top_k) == ("hirescam", "conv", "viridis", 0.25, 2)
    assert w.image_size == [30, 20]
    assert w.class_names == ["cat", "dog", "fox", "owl"]
    assert {m["method"] for m in w.maps} == {"hirescam"}


def test_magic_in_a_cell_displays_the_widget(shell):
    result = shell.run_cell("%gradcam model img --top-k 1", store_history=False)
    assert result.success
    assert isinstance(result.result, GradCAMWidget)


def test_magic_accepts_an_explainer(shell, model):
    from gradcam_widget.explain import Explainer

    shell.user_ns["ex"] = ex = Explainer(model)
    try:
        w = shell.run_line_magic("gradcam", "ex img --top-k 2")
    finally:
        shell.user_ns.pop("ex")
    assert w.explainer is ex


def test_undefined_name_is_a_clear_usage_error(shell):
    with pytest.raises(UsageError, match=r"name 'no_such_img' \(image\) is not defined"):
        shell.run_line_magic("gradcam", "model no_such_img")


def test_missing_attribute_is_a_clear_usage_error(shell):
    with pytest.raises(UsageError, match=r"'data' has no attribute 'picture'"):
        shell.run_line_magic("gradcam", "model data.picture")


@pytest.mark.parametrize("expr", ["img[0]", "__import__('os')", "np.zeros((3,3))", "1+1"])
def test_expressions_are_refused_not_evaluated(shell, expr):
    shell.user_ns["calls"] = calls = []
    shell.user_ns["np"] = SimpleNamespace(zeros=lambda *a: calls.append(a))
    try:
        with pytest.raises(UsageError, match="must be a variable name"):
            shell.run_line_magic("gradcam", f"model {expr}")
    finally:
        shell.user_ns.pop("calls")
        shell.user_ns.pop("np")
    assert calls == []


def test_engine_validation_errors_become_usage_errors(shell):
    with pytest.raises(UsageError, match=r"top_k must be between 1 and the number of classes \(4\)"):
        shell.run_line_magic("gradcam", "model img --top-k 9")
    with pytest.raises(UsageError, match="unknown colormap 'hot'"):
        shell.run_line_magic("gradcam", "model img --colormap hot")


def test_bad_arguments_show_the_usage(shell):
    with pytest.raises(UsageError, match="Usage: %gradcam MODEL IMAGE"):
        shell.run_line_magic("gradcam", "model")
    with pytest.raises(UsageError, match="Usage: %gradcam MODEL IMAGE"):
        shell.run_line_magic("gradcam", "model img --top-k many")


def test_load_ext_registers_the_magic():
    ip = InteractiveShell.instance()
    ip.magics_manager.magics["line"].pop("gradcam", None)
    ip.extension_manager.loaded.discard("gradcam_widget")
    ip.run_line_magic("load_ext", "gradcam_widget")
    assert "gradcam" in ip.magics_manager.magics["line"]
