"""The model zoo: the architectures users bring, tiny and with random weights, through every entry point.

Each model is built once per module. Every one gives finite maps through ``Explainer``, ``show_gradcam``
and ``compute_cam``; a few are checked against an independent GradientTape Grad-CAM written here; the
ViTs against a token grid reshaped by hand. Builders live in tests/zoo_models.py.
"""

from __future__ import annotations

import functools

import keras
import numpy as np
import pytest
import tensorflow as tf
import zoo_models as zoo

from gradcam_widget import Explainer, compute_cam, show_gradcam
from gradcam_widget.metrics import deletion


@functools.cache
def built(name: str):
    """(model, image size) of a zoo entry, built once per test session."""
    if name in zoo.APPLICATION_FAMILIES:
        return zoo.application(name)
    if name in zoo.HUB_CLASSIFIERS:
        keras.utils.set_random_seed(0)
        return zoo.HUB_CLASSIFIERS[name](), zoo.HUB_SIZE
    raise KeyError(name)


def image(size, seed: int = 0) -> np.ndarray:
    h, w = (size, size) if isinstance(size, int) else size
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def assert_finite_map(cam_or_array, shape=None):
    raw = getattr(cam_or_array, "raw", cam_or_array)
    assert np.all(np.isfinite(raw))
    assert raw.ndim == 2 and raw.size > 1
    if shape is not None and None not in tuple(shape):  # an any-size layer: (None, None) until an image
        assert raw.shape == tuple(shape)


def tape_gradcam(features, head, dense, x):
    """Grad-CAM by hand, the two-model way: A = features(x); the last Dense's input = head(A) under the
    tape; logits = input @ W + b (the score before the softmax)."""
    a = features(x)
    with tf.GradientTape() as tape:
        tape.watch(a)
        logits = head(a) @ dense.kernel + dense.bias
        top = int(tf.argmax(logits[0]))
        score = logits[0, top]
    grads = tape.gradient(score, a)
    weights = tf.reduce_mean(grads, axis=(1, 2))
    return top, np.maximum(tf.einsum("nk,nhwk->nhw", weights, a)[0].numpy(), 0.0)


def split_at(model, layer_name: str, dense):
    """Test-side sub-models (they add nodes to these test models' layers; the engine never does)."""
    layer = model.get_layer(layer_name)
    return keras.Model(model.inputs, layer.output), keras.Model(layer.output, dense.input)


def assert_same_map(ours: np.ndarray, reference: np.ndarray):
    assert ours.shape == reference.shape
    scale = max(float(np.abs(reference).max()), 1e-30)
    np.testing.assert_allclose(ours / scale, reference / scale, atol=1e-5)


# ---- keras.applications: one model per family -----------------------------------------------------
@pytest.mark.parametrize("name", list(zoo.APPLICATION_FAMILIES))
def test_keras_applications_family_gives_finite_maps_everywhere(name):
    model, size = built(name)
    img = image(size)
    ex = Explainer(model, compiled=False)  # eager: a few maps of big graphs do not repay tracing
    cam = ex.cam(img)
    assert_finite_map(cam, ex.layer_shape()[:2])
    assert cam.has_evidence
    assert ex.layer_name in ex.candidate_layers
    # model(x) computes what model.predict does, without tracing a predict function for a big graph
    probabilities = np.asarray(model(img[None].astype("float32"), training=False))[0]
    np.testing.assert_allclose(ex.scores(img).probabilities, probabilities, atol=1e-5)
    w = show_gradcam(ex, img, top_k=1)
    assert_finite_map(w.heatmap, cam.shape)
    # random weights give near-uniform probabilities: the widget's top class may be another index
    maps = compute_cam(ex, img, class_index=w.selected_class)  # through the explainer's cached features
    assert maps.shape == (1,) + cam.shape and np.all(np.isfinite(maps))
    np.testing.assert_allclose(w.heatmap, maps[0], atol=1e-6)
    if w.selected_class == cam.class_index:
        np.testing.assert_allclose(maps[0], cam.normalized, atol=1e-5)


@pytest.mark.parametrize("name", ["VGG16", "ResNet50", "MobileNetV2"])
def test_keras_applications_agree_with_a_gradient_tape_reference(name):
    model, size = built(name)
    img = image(size, seed=1)
    ex = Explainer(model, compiled=False)
    dense = model.layers[-1]
    top, reference = tape_gradcam(*split_at(model, ex.layer_name, dense), dense, tf.constant(img[None], tf.float32))
    cam = ex.cam(img)
    assert cam.class_index == top
    assert_same_map(cam.raw, reference)


# ---- keras_hub image classifiers --------------------------------------------------------------------
#: Also explained through traced functions (the any-size fast paths crashed there); the others eagerly.
TRACED_HUB = {"EfficientNet", "ViT-token"}


@pytest.mark.parametrize("name", list(zoo.HUB_CLASSIFIERS))
def test_keras_hub_classifier_explains_what_predict_computes(name):
    model, size = built(name)
    img = image(size, seed=2)
    predicted = model.predict(img[None], verbose=0)[0]  # the task applies its preprocessor here
    eager = Explainer(model, compiled=False)
    scores = eager.scores(img)
    expected = predicted if eager.backend.score_kind == "softmax" else softmax(predicted)
    np.testing.assert_allclose(scores.probabilities, expected, atol=1e-5)
    cam = eager.cam(img)
    assert_finite_map(cam, eager.layer_shape()[:2])
    assert cam.has_evidence
    np.testing.assert_allclose(compute_cam(eager, img)[0], cam.normalized, atol=1e-5)
    if name not in TRACED_HUB:
        assert_finite_map(show_gradcam(eager, img, top_k=2).heatmap, cam.shape)
        return
    w = show_gradcam(model, img, top_k=2)  # traces on a worker thread
    assert w.explainer.layer_name == eager.layer_name
    assert_finite_map(w.heatmap, cam.shape)
    assert w.explainer.wait_compiled(timeout=300)
    other = image(size, seed=20)  # a new image: features, scores and map through the traced functions
    np.testing.assert_allclose(
        w.explainer.cam(other).raw, eager.cam(other).raw, rtol=1e-4, atol=1e-5 * max(eager.cam(other).maximum, 1e-30)
    )
    np.testing.assert_allclose(
        w.explainer.cams(img, [0, 1, 2])[1].raw,
        eager.cams(img, [0, 1, 2])[1].raw,
        rtol=1e-4,
        atol=1e-5 * max(cam.maximum, 1e-30),
    )
    np.testing.assert_allclose(w.explainer.scores(img).probabilities, expected, atol=1e-5)


def test_keras_hub_resnet_agrees_with_a_gradient_tape_reference():
    model, size = built("ResNet")
    img = image(size, seed=3)
    ex = Explainer(model, compiled=False)
    features = keras.Model(model.inputs, model.backbone.get_layer(ex.layer_name).output)  # shares the input
    assert ex.layer_name == model.backbone.layers[-1].name  # the head: global average pooling, dense
    x = model.preprocessor(img[None].astype("float32"))
    top, reference = tape_gradcam(features, lambda a: tf.reduce_mean(a, axis=(1, 2)), model.get_layer("predictions"), x)
    cam = ex.cam(img)
    assert cam.class_index == top
    assert_same_map(cam.raw, reference)


def test_keras_hub_converter_crop_is_what_the_widget_shows():
    model, _ = built("ResNet")
    img = image((48, 32), seed=4)  # taller than the converter's square: it keeps the middle 32 x 32
    ex = Explainer(model, compiled=False)
    np.testing.assert_allclose(ex.scores(img).probabilities, model.predict(img[None], verbose=0)[0], atol=1e-5)
    np.testing.assert_array_equal(ex.prepare(img).display, img[8:40])


# ---- vision transformers ------------------------------------------------------------------------------
def _hub_vit_reference(model, img, layer: str, pooling: str):
    """Grad-CAM at a keras_hub ViT token layer, by hand: run the blocks, reshape the patch tokens."""
    backbone = model.backbone
    encoder = backbone.get_layer("vit_encoder")
    dense = model.get_layer("predictions")
    x = model.preprocessor(img[None].astype("float32"))
    tokens = encoder.dropout(backbone.get_layer("vit_patching_and_embedding")(x), training=False)
    steps = [*encoder.encoder_layers, encoder.layer_norm]
    names = [s.name for s in steps]
    cut = names.index(layer) + 1
    for step in steps[:cut]:
        tokens = step(tokens)
    with tf.GradientTape() as tape:
        tape.watch(tokens)
        y = tokens
        for step in steps[cut:]:
            y = step(y)
        pooled = y[:, 0] if pooling == "token" else tf.reduce_mean(y, axis=1)
        logits = pooled @ dense.kernel + dense.bias
        top = int(tf.argmax(logits[0]))
        score = logits[0, top]
    grads = tape.gradient(score, tokens).numpy()[0]
    a = tokens.numpy()[0]

    def grid(t):  # one class token, then 4 x 4 patches
        return t[1:].reshape(4, 4, t.shape[-1])

    weights = grid(grads).mean(axis=(0, 1))
    return top, np.maximum(np.einsum("k,hwk->hw", weights, grid(a)), 0.0)


@pytest.mark.parametrize("pooling, auto_layer", [("token", "transformer_block_1"), ("gap", "ln")])
def test_vit_gradcam_equals_the_hand_written_token_grid(pooling, auto_layer):
    model, size = built("ViT-token" if pooling == "token" else "ViT-gap")
    img = image(size, seed=5)
    nodes = {layer.name: len(layer._inbound_nodes) for layer in model._flatten_layers()}
    weights = [w.copy() for w in model.get_weights()]
    ex = Explainer(model, compiled=False)
    # class-token head: the last block's output reaches the head only through the class token, so the
    # auto layer is the last block's input; mean-pooled: the last token layer
    assert ex.layer_name == auto_layer
    assert ex.layer_shape() == (4, 4, 16)
    cam = ex.cam(img)
    assert cam.has_evidence
    top, reference = _hub_vit_reference(model, img, auto_layer, pooling)
    assert cam.class_index == top
    assert_same_map(cam.raw, reference)
    for layer in ex.candidate_layers[2:]:  # every token layer the user may name
        top, reference = _hub_vit_reference(model, img, layer, pooling)
        assert_same_map(ex.cams(img, [top], layer=layer)[0].raw, reference)
    assert {layer.name: len(layer._inbound_nodes) for layer in model._flatten_layers()} == nodes
    for before, after in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(before, after)


def test_vit_class_token_head_patch_layers_after_the_last_attention_are_reported_empty():
    model, size = built("ViT-token")
    img = image(size, seed=6)
    ex = Explainer(model, compiled=False)
    for layer in ("transformer_block_2", "ln"):  # only the class token reaches the head from here
        cam = ex.cam(img, layer=layer)
        assert not cam.has_evidence and cam.maximum == 0.0
        assert not np.any(compute_cam(model, img, layer=layer))
    w = show_gradcam(ex, img, layer="ln", top_k=1)
    assert w.maps[0]["has_evidence"] is False


def test_functional_vit_grid_from_the_token_count_agrees_with_a_tape_reference():
    model = zoo.functional_vit()
    img = image(32, seed=7)
    ex = Explainer(model)
    assert ex.layer_name == "block1_out" and ex.layer_shape() == (4, 4, 16)
    assert "block1_norm1" not in ex.candidate_layers  # the residual passes around it: not a cut
    dense = model.get_layer("probs")
    tokens = keras.Model(model.inputs, model.get_layer("block1_out").output)(tf.constant(img[None], tf.float32))
    with tf.GradientTape() as tape:
        tape.watch(tokens)
        logits = tf.reduce_mean(tokens, axis=1) @ dense.kernel + dense.bias  # the head: mean of the tokens
        top = int(tf.argmax(logits[0]))
        score = logits[0, top]
    grads = tape.gradient(score, tokens).numpy()[0].reshape(4, 4, 16)
    a = tokens.numpy()[0].reshape(4, 4, 16)
    reference = np.maximum(np.einsum("k,hwk->hw", grads.mean(axis=(0, 1)), a), 0.0)
    cam = ex.cam(img)
    assert cam.class_index == top
    assert_same_map(cam.raw, reference)
    assert_finite_map(show_gradcam(model, img, top_k=1).heatmap, (4, 4))
    assert compute_cam(model, img).shape == (1, 4, 4)


# ---- any size -----------------------------------------------------------------------------------------
def _fcn_reference(model, img):
    dense = model.get_layer("probs")
    return tape_gradcam(*split_at(model, "conv_b", dense), dense, tf.constant(img[None], tf.float32))


def test_any_size_model_explains_each_image_at_its_own_size():
    model = zoo.any_size_fcn()
    small, large = image((24, 24), seed=8), image((40, 56), seed=9)  # conv_b maps: 10 x 10 and 18 x 26
    ex = Explainer(model)  # traced functions with None spatial sizes
    maps = ex.cams_batch([small, large, small], None)
    assert [m.shape for m in maps] == [(10, 10), (18, 26), (10, 10)]
    for img, cam in ((small, maps[0]), (large, maps[1])):
        top, reference = _fcn_reference(model, img)
        assert cam.class_index == top
        assert_same_map(cam.raw, reference)
        np.testing.assert_allclose(ex.scores(img).probabilities, model.predict(img[None], verbose=0)[0], atol=1e-5)
    traces = []
    for seed, size in enumerate([(30, 30), (33, 47), (64, 36)]):  # new sizes: no new traces, still right
        img = image(size, seed=seed)
        cam = ex.cam(img)
        assert cam.shape == ((size[0] - 5) // 2 + 1, (size[1] - 5) // 2 + 1)
        assert_same_map(cam.raw, _fcn_reference(model, img)[1])
        ex.cams(img, [0, 1, 2], method="gradcam++")
        traces.append(ex.trace_count)
    assert traces[0] == traces[1] == traces[2]  # each function traced once, for every size
    listed = compute_cam(model, [small, large])  # two sizes: one map per image, each its own size
    assert [m.shape for m in listed] == [(10, 10), (18, 26)]
    np.testing.assert_allclose(listed[1], maps[1].normalized, atol=1e-5)
    w = show_gradcam(model, large, top_k=2)
    assert_finite_map(w.heatmap, (18, 26))
    assert w.explainer.wait_compiled(timeout=60)
    assert w.explainer.cam(small).shape == (10, 10)
    scorecam = ex.cams_batch([small, large], None, method="scorecam")
    assert [m.shape for m in scorecam] == [(10, 10), (18, 26)]


def test_input_size_resizes_images_for_an_any_size_model():
    model = zoo.any_size_fcn()
    maps = compute_cam(model, [image((24, 24)), image((40, 56))], input_size=(32, 32))
    assert maps.shape == (2, 14, 14)
    assert Explainer(model, input_size=(32, 32)).input_size == (32, 32)
    with pytest.raises(ValueError, match="input_size="):
        Explainer(zoo.augmented(), input_size=(64, 64))
    with pytest.raises(ValueError, match="two positive ints"):
        Explainer(model, input_size=(0, 32))


# ---- several outputs ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def two_heads():
    return zoo.two_heads()


def test_two_heads_without_output_is_an_error_listing_them(two_heads):
    for call in (
        lambda: Explainer(two_heads),
        lambda: compute_cam(two_heads, image(24)),
        lambda: show_gradcam(two_heads, image(24)),
    ):
        with pytest.raises(ValueError, match=r"2 outputs \(0: 'kind' \(None, 3\), 1: 'tags' \(None, 4\)\).*output="):
            call()
    with pytest.raises(ValueError, match="no output named 'box'"):
        Explainer(two_heads, output="box")
    with pytest.raises(ValueError, match="out of range"):
        Explainer(two_heads, output=2)


def test_output_chooses_the_head_on_every_entry_point(two_heads):
    img = image(24, seed=10)
    kind, tags = (p[0] for p in two_heads.predict(img[None], verbose=0))
    by_name, by_index = Explainer(two_heads, output="tags"), Explainer(two_heads, output=1)
    assert by_name.output == by_index.output == (1, "tags")
    np.testing.assert_allclose(by_name.scores(img).probabilities, tags, atol=1e-5)  # each unit its own sigmoid
    np.testing.assert_allclose(Explainer(two_heads, output="kind").scores(img).probabilities, kind, atol=1e-5)
    assert by_name.layer_name == "tags_conv" and "kind_conv" not in by_name.candidate_layers
    assert Explainer(two_heads, output=0).layer_name == "kind_conv"
    # the reference: Grad-CAM of the tags head by hand
    dense = two_heads.get_layer("tags")
    top, reference = tape_gradcam(*split_at(two_heads, "tags_conv", dense), dense, tf.constant(img[None], tf.float32))
    assert_same_map(by_name.cams(img, [top])[0].raw, reference)
    np.testing.assert_allclose(
        compute_cam(two_heads, img, class_index=top, output="tags")[0], reference / reference.max(), atol=1e-5
    )
    w = show_gradcam(two_heads, img, output="tags", top_k=4)
    assert [t["probability"] for t in w.top_classes] == pytest.approx(sorted(tags, reverse=True), abs=1e-5)
    curve = deletion(two_heads, img, reference, class_index=top, steps=4, progress=False, output="tags")
    assert curve.probabilities[0] == pytest.approx(float(tags[top]), abs=1e-5)


def test_output_reaches_the_explorer_and_the_magic(two_heads):
    from IPython.core.interactiveshell import InteractiveShell

    from gradcam_widget import explore_misclassifications
    from gradcam_widget.magic import load_ipython_extension

    images = np.stack([image(24, seed=s) for s in range(4)])
    explorer = explore_misclassifications(two_heads, images, [0, 1, 2, 3], output="tags", progress=False)
    np.testing.assert_array_equal(explorer.predictions.predicted, two_heads.predict(images, verbose=0)[1].argmax(-1))
    shell = InteractiveShell.instance()
    load_ipython_extension(shell)
    shell.user_ns.update(model=two_heads, img=images[0])
    assert shell.run_line_magic("gradcam", "model img --output tags").explainer.output == (1, "tags")
    assert shell.run_line_magic("gradcam", "model img --output 0").explainer.output == (0, "kind")


# ---- augmentation inside, .keras round trip -------------------------------------------------------------
def test_augmentation_and_rescaling_inside_the_model(tmp_path):
    model = zoo.augmented()
    img = image(32, seed=11)
    ex = Explainer(model)
    assert ex.layer_name == "conv_b"
    assert not any(name.startswith(("random_", "rescaling")) for name in ex.candidate_layers)
    np.testing.assert_allclose(ex.scores(img).probabilities, model.predict(img[None], verbose=0)[0], atol=1e-5)
    cam = ex.cam(img)
    np.testing.assert_array_equal(cam.raw, Explainer(model, compiled=False).cam(img).raw)  # inactive: repeatable
    assert_finite_map(show_gradcam(model, img, top_k=2).heatmap, cam.shape)
    assert_finite_map(compute_cam(model, img)[0], cam.shape)
    path = tmp_path / "augmented.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(Explainer(loaded, compiled=False).cam(img).raw, cam.raw, rtol=1e-5, atol=1e-7)


def test_keras_hub_classifier_survives_a_keras_round_trip(tmp_path):
    model, size = built("ResNet")
    img = image(size, seed=12)
    path = tmp_path / "resnet.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.preprocessor is not None
    np.testing.assert_allclose(compute_cam(loaded, img), compute_cam(model, img), atol=1e-5)
    np.testing.assert_allclose(
        Explainer(loaded).scores(img).probabilities, loaded.predict(img[None], verbose=0)[0], atol=1e-5
    )
