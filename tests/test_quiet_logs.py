"""TensorFlow's C++ start-up lines stay out of notebooks, unless the user set TF_CPP_MIN_LOG_LEVEL."""

from __future__ import annotations

import os
import subprocess
import sys

import nbclient
import nbformat

from gradcam_widget._quiet import startup_noise

START_UP = ("absl::InitializeLog", "port.cc", "cudart_stub", "cpu_feature_guard", "cuInit", "oneDNN")


def _stderr_outputs(cells: list[str], env: dict) -> list[str]:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:  # the kernel inherits this process's environment
        nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3").execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return [out.get("text", "") for cell in notebook.cells for out in cell.outputs if out.get("name") == "stderr"]


def test_executed_notebook_has_no_tensorflow_startup_output():
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    cells = [
        "import gradcam_widget\nfrom gradcam_widget.demo import load_model",
        "import keras, numpy as np\nmodel = load_model('digits')\nmodel.predict(np.zeros((1, 32, 32, 3)), verbose=0).shape",
        "from gradcam_widget import show_gradcam\nw = show_gradcam(model, np.zeros((32, 32, 3), np.float32))\nw",
        "import warnings\nwarnings.warn('a warning that matters')",
    ]
    stderr = _stderr_outputs(cells, env)
    noisy = [text for text in stderr if any(word in text for word in START_UP)]
    assert not noisy, noisy
    # A Python warning still reaches the notebook.
    assert any("a warning that matters" in text for text in stderr), stderr


def test_a_level_the_user_set_is_respected_and_the_filter_drops_the_real_lines():
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "0"}
    code = (
        "import os, gradcam_widget, tensorflow as tf\ntf.constant(1.0) + 1.0\nprint(os.environ['TF_CPP_MIN_LOG_LEVEL'])"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "0"
    assert "port.cc" in run.stderr  # asked for everything: TensorFlow's lines are shown, untouched
    # The same real lines pass through the filter used when the user set nothing.
    assert not any(word in startup_noise(run.stderr) for word in START_UP[:4]), startup_noise(run.stderr)


def test_filter_keeps_errors_and_ordinary_output():
    text = (
        "I0000 00:00:1.5 42 port.cc:153] oneDNN custom operations are on.\n"
        "I0000 00:00:1.6 42 cpu_feature_guard.cc:227] This TensorFlow binary is optimized.\n"
        "To enable the following instructions: AVX2, rebuild TensorFlow.\n"
        "E0000 00:00:1.7 42 real.cc:1] something broke\n"
        "user output\n"
    )
    assert startup_noise(text) == "E0000 00:00:1.7 42 real.cc:1] something broke\nuser output\n"
