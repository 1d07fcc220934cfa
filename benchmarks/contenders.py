"""The other ways of getting a Grad-CAM map, and the physical limits, that the benchmark runs.

- tf-keras-vis ``Gradcam`` / ``Scorecam`` called as its documentation shows: ``ReplaceToLinear`` with
  the default ``clone=True`` (the constructor clones the model), the same target layer as ours
  (``seek_penultimate_conv_layer=False``), maps at the layer's resolution (``expand_cam=False``).
- The Keras Grad-CAM example's algorithm (keras.io/examples/vision/grad_cam), written here from its
  description: per call, a probe model ``keras.Model(model.inputs, [conv.output, model.output])`` is
  rebuilt, run eagerly under a GradientTape, and the gradient is mean-pooled into channel weights.
- Limits: the compiled forward pass of the whole model, and a compiled forward + backward through the
  head alone (target layer -> scores) on cached activations, which is all a class switch must cost.
"""

from __future__ import annotations

import contextlib
import io

import tensorflow as tf
import keras


# ---- the Keras example's algorithm -------------------------------------------------------------------


def keras_example_gradcam(model, image_batch, conv_layer_name: str, class_index=None):
    """Grad-CAM of the first image of ``image_batch`` as the Keras example computes it.

    The probe model is rebuilt on every call, as the example's ``make_gradcam_heatmap`` does. The
    example also strips the last layer's softmax by mutating the model (``activation = None``); that is
    skipped here because the same model object is shared by every contender (a softmax on 1000 values
    costs microseconds, so the timing is unaffected).
    """
    conv = model.get_layer(conv_layer_name)
    probe = keras.Model(model.inputs, [conv.output, model.output])
    with tf.GradientTape() as tape:
        activations, predictions = probe(image_batch)
        if class_index is None:
            class_index = tf.argmax(predictions[0])
        class_score = predictions[:, class_index]
    gradients = tape.gradient(class_score, activations)
    weights = tf.reduce_mean(gradients, axis=(0, 1, 2))  # one weight per channel
    heatmap = tf.squeeze(activations[0] @ weights[:, None], -1)  # (h, w)
    heatmap = tf.maximum(heatmap, 0.0) / tf.math.reduce_max(heatmap)
    return heatmap.numpy()


# ---- tf-keras-vis ------------------------------------------------------------------------------------


def tf_keras_vis_available() -> bool:
    try:
        import tf_keras_vis  # noqa: F401
    except Exception:  # noqa: BLE001 - an optional contender; any import failure means "skip it"
        return False
    return True


class TkvGradcam:
    """tf-keras-vis Grad-CAM, constructed once (this clones the model) and called per request."""

    def __init__(self, model, layer: str):
        from tf_keras_vis.gradcam import Gradcam
        from tf_keras_vis.utils.model_modifiers import ReplaceToLinear

        self.layer = layer
        self.gradcam = Gradcam(model, model_modifier=ReplaceToLinear(), clone=True)

    def __call__(self, image_batch, classes):
        """One map per image of the batch, image i for ``classes[i]``: (N, h, w)."""
        from tf_keras_vis.utils.scores import CategoricalScore

        return self.gradcam(
            CategoricalScore([int(c) for c in classes]),
            image_batch,
            penultimate_layer=self.layer,
            seek_penultimate_conv_layer=False,
            expand_cam=False,
        )


class TkvScorecam:
    """tf-keras-vis Score-CAM with ``max_N`` channels (Faster Score-CAM), batches of 32."""

    def __init__(self, model, layer: str, channels: int):
        from tf_keras_vis.scorecam import Scorecam

        self.layer = layer
        self.channels = channels
        self.scorecam = Scorecam(model)  # no model modifier: tf-keras-vis does not clone then

    def __call__(self, image_batch, classes):
        from tf_keras_vis.utils.scores import CategoricalScore

        # Its model.predict prints a progress bar (Keras turns interactive logging back on after
        # clear_session); writing it is a few ms of terminal I/O, kept out of the output.
        with contextlib.redirect_stdout(io.StringIO()):
            return self.scorecam(
                CategoricalScore([int(c) for c in classes]),
                image_batch,
                penultimate_layer=self.layer,
                seek_penultimate_conv_layer=False,
                max_N=self.channels,
                batch_size=32,
                expand_cam=False,
            )


# ---- physical limits ---------------------------------------------------------------------------------


def compiled_forward(model):
    """The model's forward pass as one compiled function: (N, H, W, C) -> (N, classes)."""
    spec = tf.TensorSpec((None,) + tuple(model.inputs[0].shape[1:]), tf.float32)

    @tf.function(input_signature=[spec])
    def forward(x):
        return model(x, training=False)

    return forward


def head_forward_backward(explainer, layer=None):
    """Compiled head forward + backward on cached activations: (A, classes) -> Grad-CAM weights.

    Uses the Explainer's own head (its graph executor from the target layer to the pre-softmax
    scores), so this is the same arithmetic a class switch must do, without anything around it.
    """
    choice = explainer.backend.choice(layer)
    head = explainer.backend.programs.head(choice)
    spec = [tf.TensorSpec((None,) + tuple(choice.shape), tf.float32), tf.TensorSpec((None,), tf.int32)]

    @tf.function(input_signature=spec)
    def run(activations, classes):
        with tf.GradientTape() as tape:
            tape.watch(activations)
            scores = head(activations)
            picked = tf.gather(scores, classes[:, None], batch_dims=1)
        return tf.reduce_mean(tape.gradient(picked, activations), axis=(1, 2))

    return run


def cached_activations(explainer, prepared, layer=None):
    """The Explainer's cached activations (1, h, w, k) for a prepared image."""
    features, _ = explainer.features([prepared], layer=layer)
    return features.activations
