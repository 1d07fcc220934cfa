"""Dataset scale: compute_cam and audit time as a ratio of model.predict on the same images;
the audit's peak memory on long streams; Ray's overhead against the local engine.

    PYTHONPATH=. python -m benchmarks.dataset_scale [--n 64] [--models mobilenetv2,resnet50,imagenet-lite0]
    PYTHONPATH=. python -m benchmarks.dataset_scale memory [--sizes 10000,100000] [--save audit.parquet]
    PYTHONPATH=. python -m benchmarks.dataset_scale ray [--n 2000]

(The explorer's first paint in Chromium: ``python -m benchmarks.explorer_paint``.)

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


SMALL_SIZE = 16  # the memory and Ray runs stream small images (16 x 16 RGB) through a small CNN


def small_model():
    """A small CNN (16 px in, an 8 x 8 map at its last conv, 10 classes): the engine's per-image work
    without a big model's time, so 100,000 images stream in minutes on two cores."""
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((SMALL_SIZE, SMALL_SIZE, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu", name="conv_last")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x))


def stream(n, seed=0):
    """n random images and labels, made one chunk at a time (never all in memory)."""
    rng = np.random.default_rng(seed)
    for start in range(0, n, 256):
        block = rng.integers(0, 256, (min(256, n - start), SMALL_SIZE, SMALL_SIZE, 3), dtype=np.uint8)
        for image in block:
            yield image, int(rng.integers(0, 10))


def _rss_mb():
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def memory_child(n, save):
    """One run in a fresh process: RSS after the warm-up (TensorFlow loaded, model traced) and the
    peak while the audit streams n images (sampled every 20 ms), table with uint8 maps kept."""
    import threading

    from gradcam_widget import Explainer
    from gradcam_widget.audit import audit, to_parquet

    explainer = Explainer(small_model(), cache_size=256)
    audit(explainer, stream(512, seed=1), maps="uint8", chunk_size=256, progress_after=3600)  # warm-up
    base = _rss_mb()
    peak = [base]
    done = threading.Event()

    def sample():
        while not done.wait(0.02):
            peak[0] = max(peak[0], _rss_mb())

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    start = time.perf_counter()
    table = audit(explainer, stream(n), maps="uint8", chunk_size=256, progress_after=3600)
    seconds = time.perf_counter() - start
    done.set()
    thread.join()
    peak[0] = max(peak[0], _rss_mb())
    table_mb = table.memory_usage(deep=True).sum() / 2**20
    if save:
        to_parquet(table, save)
    return {"n": n, "base_mb": base, "peak_mb": peak[0], "table_mb": table_mb, "seconds": seconds}


def memory(sizes, save):
    import json
    import subprocess
    import sys

    print(
        f"| images ({SMALL_SIZE} px, streamed) | RSS after warm-up | peak RSS | growth | audit table in memory | time |"
    )
    print("|---|---|---|---|---|---|")
    for n in sizes:
        code = (
            "import json, benchmarks.dataset_scale as b; "
            f"print('@@' + json.dumps(b.memory_child({n}, {save if n == max(sizes) else None!r})))"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        r = json.loads(next(line[2:] for line in out.splitlines() if line.startswith("@@")))
        print(
            f"| {n:,} | {r['base_mb']:.0f} MB | {r['peak_mb']:.0f} MB | {r['peak_mb'] - r['base_mb']:.0f} MB "
            f"| {r['table_mb']:.0f} MB | {r['seconds']:.0f} s |",
            flush=True,
        )


def ray_overhead(n):
    """Local audit vs audit(engine="ray") on 2 local workers, same images, one process."""
    import tempfile

    import ray

    from gradcam_widget.audit import audit

    model = small_model()
    images = np.random.default_rng(0).integers(0, 256, (n, SMALL_SIZE, SMALL_SIZE, 3), dtype=np.uint8)
    labels = np.random.default_rng(1).integers(0, 10, n)
    audit(model, images[:256], labels[:256], chunk_size=256)  # warm-up
    start = time.perf_counter()
    local = audit(model, images, labels, chunk_size=256)
    t_local = time.perf_counter() - start
    start = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    t_init = time.perf_counter() - start
    try:
        with tempfile.TemporaryDirectory():
            runs = []
            for _ in range(2):  # each run starts its actors (TensorFlow import, model load) anew
                start = time.perf_counter()
                remote = audit(model, images, labels, engine="ray", actors=2, batch_size=512, chunk_size=256)
                runs.append(time.perf_counter() - start)
    finally:
        ray.shutdown()
    assert remote["pred"].tolist() == local["pred"].tolist()
    print("| images | local audit | ray.init | Ray audit, 2 actors (run 1, run 2) | Ray / local |")
    print("|---|---|---|---|---|")
    print(
        f"| {n:,} | {t_local:.1f} s | {t_init:.1f} s | {runs[0]:.1f} s, {runs[1]:.1f} s "
        f"| {runs[0] / t_local:.1f}x, {runs[1] / t_local:.1f}x |"
    )


def main(argv=None):
    import sys

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "memory":
        parser = argparse.ArgumentParser(description="peak RSS of an audit over a long stream")
        parser.add_argument("--sizes", default="10000,100000")
        parser.add_argument("--save", default=None, help="write the largest audit here (Parquet)")
        args = parser.parse_args(argv[1:])
        return memory([int(v) for v in args.sizes.split(",")], args.save)
    if argv and argv[0] == "ray":
        parser = argparse.ArgumentParser(description="Ray's overhead on 2 local workers")
        parser.add_argument("--n", type=int, default=2000)
        return ray_overhead(parser.parse_args(argv[1:]).n)
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
