"""Per-class cost with cached features vs a full recompute, measured in one process.

    python benchmarks/class_switch.py [--models VGG16 ResNet50 MobileNetV2] [--repeats 15]

Prints, per model (weights=None, 224x224, CPU): the median time of a class switch through the
Explainer (cached features: head forward + backward only), of top-5 maps in one batched pass, of a
first map for a new image, and of a full recompute (a compiled forward+backward over the whole network,
as tools without a feature cache do for every class), with their ratios. Timings are noisy on shared
machines: compare the ratios, which are measured side by side.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np


def _median_ms(fn, repeats):
    fn()  # warm-up (tracing)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def measure(name, repeats):
    import keras
    import tensorflow as tf
    from gradcam_widget import Explainer

    keras.utils.set_random_seed(0)
    model = getattr(keras.applications, name)(weights=None)
    ex = Explainer(model)
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 255, (224, 224, 3)).astype(np.float32)
    prepared = ex.prepare(image)
    ex.cams(prepared, [0, 1, 2, 3, 4])
    counter = iter(range(10**9))

    def class_switch():
        ex.cam(prepared, 5 + next(counter) % 900)

    def top5():
        ex.cams(prepared, [0, 1, 2, 3, 4])

    def new_image():
        ex.clear_cache()
        ex.cam(prepared, 7)

    layer = model.get_layer(ex.layer_name).output
    probe = keras.Model(model.inputs, [layer, model.output])
    x = tf.constant(prepared.model_input[None])

    @tf.function
    def full(x, c):
        with tf.GradientTape() as tape:
            a, out = probe(x, training=False)
            score = tf.gather(out, c, axis=1)
        return a, tape.gradient(score, a)

    def full_recompute():
        full(x, tf.constant([3]))

    @tf.function
    def forward(x):
        return model(x, training=False)

    results = {
        "class_switch_ms": _median_ms(class_switch, repeats),
        "top5_ms": _median_ms(top5, repeats),
        "new_image_ms": _median_ms(new_image, repeats),
        "full_recompute_ms": _median_ms(full_recompute, repeats),
        "forward_ms": _median_ms(lambda: forward(x), repeats),
    }
    results["full_over_switch"] = results["full_recompute_ms"] / results["class_switch_ms"]
    results["top5_over_switch"] = results["top5_ms"] / results["class_switch_ms"]
    results["new_image_over_forward"] = results["new_image_ms"] / results["forward_ms"]
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["VGG16", "ResNet50", "MobileNetV2"])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    table = {name: measure(name, args.repeats) for name in args.models}
    print(json.dumps(table, indent=2))
    print("\n| model | class switch (ms) | top-5 (ms) | new image (ms) | full recompute (ms) | forward (ms) "
          "| full / switch |")
    print("|---|---|---|---|---|---|---|")
    for name, r in table.items():
        print(f"| {name} | {r['class_switch_ms']:.1f} | {r['top5_ms']:.1f} | {r['new_image_ms']:.1f} | "
              f"{r['full_recompute_ms']:.1f} | {r['forward_ms']:.1f} | {r['full_over_switch']:.0f}x |")


if __name__ == "__main__":
    main()
