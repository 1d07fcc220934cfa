"""The Keras backend's programs: each a TensorFlow function of the flattened graph, built once per
(layer, method) with a batch-agnostic signature and handed to the backend to trace (or run eagerly).

- features: x -> A (the backbone up to the chosen layer); head: A -> class scores;
- features+scores: x -> (A, scores, z) in one dispatch (z: the pooled head's vector, see
  :class:`~gradcam_widget.explain.head_ops._PooledDense`);
- first: x -> (A, scores, z, the top class's map) for a new image;
- cam: (A, classes, against) -> maps of a gradient or activations-only method;
- pooled-gradcam (-k): Grad-CAM through the pooling-offset shortcut (k classes of one image vectorised);
- full: x -> scores (Score-CAM's masked passes, dataset-scale scores).
"""

from __future__ import annotations

import tensorflow as tf

from .head_ops import _as_grid, _find_pooled_dense, _offset_scores, _pooled_gradcam, _positions, _target_scores


class Programs:
    """The programs of one backend; ``backend.function(key, build, signature)`` caches and compiles."""

    def __init__(self, backend):
        self._backend = backend

    @property
    def _graph(self):
        return self._backend.graph

    def _x_spec(self):
        return tf.TensorSpec((None,) + tuple(self._backend.input_shape), tf.float32)

    def _a_spec(self, choice):
        return tf.TensorSpec((None,) + tuple(choice.tensor.shape[1:]), tf.float32)  # tokens: (T, dim)

    def features_fn(self, choice):
        graph, model_input = self._graph, self._graph.inputs[0]
        dtype = model_input.dtype

        def build():
            def features(x):
                a = graph.run({model_input: tf.cast(x, dtype)}, [choice.tensor])[0]
                return tf.cast(a, tf.float32)

            return features

        return self._backend.function(("features", choice.name), build, [self._x_spec()])

    def head(self, choice):
        """A -> class scores (N, C) float32 (a single logit becomes [-s, s]); not traced by itself."""
        graph, source, binary = self._graph, self._backend.source, self._backend.binary

        def head(a):
            s = graph.run({choice.tensor: a}, [source.target], source.overrides)[0]
            s = tf.cast(s, tf.float32)
            if binary:  # one logit: class 1 = evidence for, class 0 = evidence against
                s = tf.concat([-s, s], axis=-1)
            return s

        return head

    def scores_fn(self, choice):
        def build():
            return self.head(choice)

        return self._backend.function(("scores", choice.name), build, [self._a_spec(choice)])

    def pooled_dense(self, choice):
        key = ("pooled-dense", choice.name)
        if choice.is_tokens:
            return None  # token layers have no pooling shortcut
        functions = self._backend.functions
        if key not in functions:
            functions[key] = _find_pooled_dense(self._graph, choice, self._backend.source)
        return functions[key]

    def dense_scores(self, choice, pd):
        """(z: the Dense pre-activation, y: activation(z)) -> class scores (the rest of the head)."""
        graph, source, binary = self._graph, self._backend.source, self._backend.binary

        def scores_from(y):
            s = tf.cast(graph.run({pd.inject: y}, [source.target], source.overrides)[0], tf.float32)
            return tf.concat([-s, s], axis=-1) if binary else s

        return scores_from

    def features_scores_fn(self, choice):
        """x -> (A, scores, z) in one call: a new image costs one dispatch. z is the pre-activation of a
        pooled Flatten->Dense head (see _PooledDense), else an empty placeholder."""
        graph, model_input, head = self._graph, self._graph.inputs[0], self.head(choice)
        dtype = model_input.dtype
        pd = self.pooled_dense(choice)
        scores_from = self.dense_scores(choice, pd) if pd is not None else None

        def build():
            def features_scores(x):
                a = tf.cast(graph.run({model_input: tf.cast(x, dtype)}, [choice.tensor])[0], tf.float32)
                if pd is None:
                    return a, head(a), tf.zeros((tf.shape(a)[0], 0))
                z = tf.cast(graph.run({choice.tensor: a}, [pd.source])[0], tf.float32)
                if pd.dense is None:  # global pooling: z is the pooled vector
                    return a, scores_from(z), z
                z = tf.matmul(z, tf.cast(pd.dense.kernel, tf.float32))
                if pd.dense.use_bias:
                    z = z + tf.cast(pd.dense.bias, tf.float32)
                return a, scores_from(pd.dense.activation(z)), z

            return features_scores

        return self._backend.function(("features+scores", choice.name), build, [self._x_spec()])

    def first_map_fn(self, choice, method):
        """x -> (A, scores, z, map of the top class) in one call, with one head forward (gradient methods).
        With a pooled head and Grad-CAM, through the offset shortcut (see _PooledDense)."""
        graph, model_input, head = self._graph, self._graph.inputs[0], self.head(choice)
        dtype = model_input.dtype
        pd = self.pooled_dense(choice) if method.mean_gradient_weights else None
        features_scores = self.features_scores_fn(choice) if pd is not None else None
        scores_from = self.dense_scores(choice, pd) if pd is not None else None
        function = method.resolve()

        def build():
            def first_map(x):
                if pd is not None:
                    a, scores, z = features_scores(x)
                    top = tf.argmax(scores, axis=-1, output_type=tf.int32)
                    offset = tf.zeros((tf.shape(a)[0], tf.shape(a)[-1]))
                    with tf.GradientTape() as tape:
                        tape.watch(offset)
                        picked = tf.gather(_offset_scores(pd, scores_from, z, offset), top[:, None], batch_dims=1)
                    weights = tape.gradient(picked, offset) / _positions(a)
                    return a, scores, z, tf.einsum("nk,nhwk->nhw", weights, a)
                a = tf.cast(graph.run({model_input: tf.cast(x, dtype)}, [choice.tensor])[0], tf.float32)
                with tf.GradientTape() as tape:
                    tape.watch(a)
                    scores = head(a)
                    top = tf.argmax(scores, axis=-1, output_type=tf.int32)
                    picked = tf.gather(scores, top[:, None], batch_dims=1)
                gradients = tf.cast(tape.gradient(picked, a), tf.float32)
                maps = function(_as_grid(choice, a), _as_grid(choice, gradients))
                return a, scores, tf.zeros((tf.shape(a)[0], 0)), maps

            return first_map

        return self._backend.function(("first", choice.name, method.name), build, [self._x_spec()])

    def cam_fn(self, choice, method):
        """(A, classes, against) -> maps before ReLU, one per class row (gradient or activations kind)."""
        head = self.head(choice)
        function = method.resolve()

        def build():
            def run(a, classes, against):
                # One image for k classes (Explainer.cams) is repeated here, not by an eager concat.
                a = tf.repeat(a, tf.shape(classes)[0] // tf.shape(a)[0], axis=0)
                if not method.needs_gradients:
                    return function(_as_grid(choice, a), None)
                with tf.GradientTape() as tape:
                    tape.watch(a)
                    scores = head(a)
                    picked = _target_scores(scores, classes, against)
                gradients = tf.cast(tape.gradient(picked, a), tf.float32)
                return function(_as_grid(choice, a), _as_grid(choice, gradients))

            return run

        spec = [self._a_spec(choice), tf.TensorSpec((None,), tf.int32), tf.TensorSpec((None,), tf.int32)]
        return self._backend.function(("cam", choice.name, method.name), build, spec)

    def _pooled_spec(self, choice):
        return [
            self._a_spec(choice),
            tf.TensorSpec((None, None), tf.float32),
            tf.TensorSpec((None,), tf.int32),
            tf.TensorSpec((None,), tf.int32),
        ]

    def pooled_gradcam_fn(self, choice):
        """(A, z, classes, against) -> Grad-CAM maps through the pooling-offset shortcut (see _PooledDense)."""
        pd = self.pooled_dense(choice)
        scores_from = self.dense_scores(choice, pd)

        def build():
            return lambda a, z, classes, against: _pooled_gradcam(pd, scores_from, a, z, classes, against)

        return self._backend.function(("pooled-gradcam", choice.name), build, self._pooled_spec(choice))

    def pooled_gradcam_k_fn(self, choice):
        """One image, k classes: one forward of the head, the k backward passes vectorised (jacobian)."""
        pd = self.pooled_dense(choice)
        scores_from = self.dense_scores(choice, pd)

        def build():
            def run(a, z, classes, against):
                if not tf.inside_function():  # eager: the jacobian's pfor would trace a function per call
                    return _pooled_gradcam(pd, scores_from, a, z, classes, against)
                offset = tf.zeros((1, tf.shape(a)[-1]))
                with tf.GradientTape() as tape:
                    tape.watch(offset)
                    scores = _offset_scores(pd, scores_from, z, offset)[0]
                    other = tf.where(against >= 0, tf.gather(scores, tf.maximum(against, 0)), 0.0)
                    picked = tf.gather(scores, classes) - other
                weights = tape.jacobian(picked, offset)[:, 0] / _positions(a)
                return tf.einsum("nk,hwk->nhw", weights, a[0])

            return run

        return self._backend.function(("pooled-gradcam-k", choice.name), build, self._pooled_spec(choice))

    def full_scores_fn(self, choice):
        """x -> scores (N, C) through ``choice`` (the whole model)."""
        features = self.features_fn(choice)
        head = self.head(choice)

        def build():
            return lambda x: head(features(x))

        return self._backend.function(("full", choice.name), build, [self._x_spec()])
