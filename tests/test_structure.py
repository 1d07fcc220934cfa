"""The package's shape: the explainer's declared interface is what the rest uses, nothing outside
explain/ reaches into it or imports Keras/TensorFlow (demo/ builds the demo models), and the public
Explainer is backend neutral: TensorFlow lives in the backend it delegates to."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np

from gradcam_widget.explain import Explainer
from gradcam_widget.explain.backend import Backend
from gradcam_widget.explain.keras_backend import KerasBackend
from gradcam_widget.explain.protocol import ExplainerAPI

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "gradcam_widget"
CALLERS = [p for p in PACKAGE.rglob("*.py") if "explain" not in p.parts and "demo" not in p.parts]
IMPORTS = re.compile(r"^\s*(?:import|from)\s+(?:keras|tensorflow|tf_keras)\b", re.M)


def test_the_explainer_implements_the_declared_interface():
    members = [name for name in dir(ExplainerAPI) if not name.startswith("_")]
    assert len(members) >= 20
    for name in members:
        assert hasattr(Explainer, name), name
        declared, actual = getattr(ExplainerAPI, name), getattr(Explainer, name)
        if callable(declared) and not isinstance(declared, property):
            assert list(inspect.signature(declared).parameters) == list(inspect.signature(actual).parameters), name
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(2, 3, name="conv")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(x)))
    explainer = Explainer(model, compiled=False)
    assert isinstance(explainer, ExplainerAPI)
    assert isinstance(explainer.backend, KerasBackend) and isinstance(explainer.backend, Backend)
    backend_members = [name for name in dir(Backend) if not name.startswith("_")]
    assert len(backend_members) >= 25
    for name in backend_members:
        assert hasattr(KerasBackend, name) or hasattr(explainer.backend, name), name


def test_no_private_explainer_member_or_tensorflow_outside_explain():
    private = re.compile(r"\b(?:explainer|_explainer|ex|backend)\._[a-z]")
    offenders = []
    for path in CALLERS:
        text = path.read_text()
        offenders += [f"{path.name}: private {m.group()}" for m in private.finditer(text)]
        offenders += [f"{path.name}: {m.group().strip()}" for m in IMPORTS.finditer(text)]
        offenders += [f"{path.name}: {m.group()}" for m in re.finditer(r"from \.+explain\.\w+ import _\w+", text)]
    for path in (ROOT / "benchmarks").glob("*.py"):  # benchmarks may use TensorFlow, not explainer internals
        offenders += [f"{path.name}: private {m.group()}" for m in private.finditer(path.read_text())]
    assert offenders == []


def test_the_public_explainer_imports_no_tensorflow():
    source = (PACKAGE / "explain" / "explainer.py").read_text()
    assert IMPORTS.findall(source) == []  # not even inside a function: the backend does that
    probe = "import sys, gradcam_widget.explain.explainer; print(sorted({'tensorflow', 'keras'} & set(sys.modules)))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    assert loaded.stdout.strip() == "[]"


def test_randomized_copy_never_touches_the_model():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(2, 3, name="conv")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2, name="head")(keras.layers.GlobalAveragePooling2D()(x)))
    before = [w.copy() for w in model.get_weights()]
    copy = Explainer(model, compiled=False).randomized_copy()
    assert [short for _, short in copy.learned] == ["head", "conv"]
    for k in range(len(copy.learned)):
        copy.randomize(k, seed=k)
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)
    changed = copy.explainer().model.get_weights()
    assert any(not np.array_equal(a, b) for a, b in zip(before, changed))
