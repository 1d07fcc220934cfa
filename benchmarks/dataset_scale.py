"""Dataset scale: compute_cam and audit time as a ratio of model.predict on the same images.

    PYTHONPATH=. python -m benchmarks.dataset_scale [--n 64] [--models mobilenetv2,resnet50,imagenet-lite0]

All three are measured in one process, each after a warm-up run (tracing excluded), best of
``--repeat`` interleaved rounds; only ratios are reported (the machine's speed cancels out). Nothing is downloaded:
keras.applications models use weights=None, imagenet-lite0 ships with the demo extra.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def _model(name):
    import keras

    if name == "mobilenetv2":
        return keras.applications.MobileNetV2(weights=None)
    if name == "resnet50":
        return keras.applications.ResNet50(weights=None)
    if name == "imagenet-lite0":
        from gradcam_widget.demo import load_model

        return load_model("imagenet-lite0")
    raise SystemExit(f"unknown model {name!r}")


def _interleaved(fns, repeat):
    """Best time of each function, run in rounds (predict, maps, audit, predict, ...) so a change in
    the machine's load hits all of them alike."""
    for fn in fns:
        fn()  # warm-up: traces and compiles
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def measure(name, n, repeat):
    from gradcam_widget import Explainer, compute_cam
    from gradcam_widget.audit import audit

    model = _model(name)
    size = model.input_shape[1:3]
    images = np.random.default_rng(0).integers(0, 256, (n, *size, 3), dtype=np.uint8)
    explainer = Explainer(model)  # reused, as for a dataset: traced once
    predict, cams, table = _interleaved(
        [
            lambda: model.predict(images, batch_size=32, verbose=0),
            lambda: compute_cam(explainer, images),
            lambda: audit(explainer, images, labels=np.zeros(n, int), progress_after=3600),
        ],
        repeat,
    )
    return {"model": name, "n": n, "predict_s": predict, "compute_cam_x": cams / predict, "audit_x": table / predict}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--models", default="mobilenetv2,resnet50,imagenet-lite0")
    args = parser.parse_args(argv)
    print("| model | images | predict (s) | compute_cam / predict | audit / predict |")
    print("|---|---|---|---|---|")
    for name in args.models.split(","):
        r = measure(name, args.n, args.repeat)
        print(
            f"| {r['model']} | {r['n']} | {r['predict_s']:.2f} | {r['compute_cam_x']:.2f}x | {r['audit_x']:.2f}x |",
            flush=True,
        )


if __name__ == "__main__":
    main()
