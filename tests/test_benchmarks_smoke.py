"""The benchmark command runs end to end (``--quick`` on a tiny model) and writes its report.

Only the structure is checked: timings depend on the machine and are never asserted here. The real
measurements are ``python -m benchmarks.run`` (see benchmarks/run.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = {"cold", "switch", "top5", "new", "batch16", "scorecam"}


def test_quick_benchmark_writes_json_and_markdown(tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--quick", "--models", "tiny", "--out", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]

    written = sorted(tmp_path.glob("bench-*-quick.json"))
    assert len(written) == 1, list(tmp_path.iterdir())
    report = json.loads(written[0].read_text())
    markdown = written[0].with_suffix(".md").read_text()

    meta = report["meta"]
    for key in ("date", "cpu", "cores", "tensorflow", "keras"):
        assert meta[key], key
    assert report["config"]["quick"] is True

    tiny = report["models"]["tiny"]
    assert tiny["layer"] == "conv_last" and tiny["num_classes"] == 20
    assert set(tiny["scenarios"]) == SCENARIOS
    expected = {
        "cold": {"ours_show_gradcam", "keras_example_first_call"},
        "switch": {"ours_widget", "ours_engine", "limit_head", "keras_example"},
        "top5": {"ours_engine_top5", "ours_engine_single", "limit_head_top5", "keras_example_x5"},
        "new": {"ours_engine", "ours_widget", "limit_forward", "limit_head", "keras_example"},
        "batch16": {"ours_engine", "ours_compute_cam", "limit_forward", "limit_head", "keras_example_x16"},
        "scorecam": {"ours_engine", "limit_forward_masked"},
    }
    with_tkv = report["config"]["tf_keras_vis"]
    for scenario, names in expected.items():
        rows = tiny["scenarios"][scenario]["contenders"]
        assert names <= set(rows), (scenario, sorted(rows))
        assert with_tkv == any(name.startswith("tkv") for name in rows), (scenario, sorted(rows))
        for name, row in rows.items():
            assert row["n"] >= 1 and len(row["ms"]) == row["n"], (scenario, name)
            assert row["min"] <= row["median"] <= row["max"], (scenario, name)
            assert all(t > 0 for t in row["ms"]), (scenario, name)

    assert report["targets"] and all(t["model"] == "tiny" for t in report["targets"])
    assert {"target", "value", "threshold", "met", "detail"} <= set(report["targets"][0])
    for heading in ("## Summary", "## Targets", "## tiny"):
        assert heading in markdown
    assert "| switch | ours_widget |" in markdown
