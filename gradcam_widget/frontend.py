"""The front-end files, found in the wheel or the repository, with their local imports inlined.

anywidget loads ``_esm`` from a Blob URL, where ``import ... from "./lib/maps.js"`` cannot resolve.
The front end is still written as small ES modules (node's tests import them as they are), and this
module joins one entry module and the modules it imports into one text, each file once, in
dependency order. It is not a bundler: it accepts only ``import { a, b } from "./file.js";`` between
the project's own files and refuses everything else (package or URL imports, ``as`` renames).

Each imported module is wrapped in a function of its own, so its top-level names (whatever the
declaration form: destructuring, ``var``, several names in one statement) cannot clash with another
module's; it hands back only what it exports, and an importer unpacks the names it imports. The
joiner reads exports only in the forms ``export function|class|const|let NAME``, one name per
statement, and rejects any other ``export`` it cannot read (``export { }``, ``export *``, ``export
var``, destructured or multi-name exports) rather than guess.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

_LOCAL_IMPORT = re.compile(r'^import\s*\{([^}]*)\}\s*from\s*"(\.{1,2}/[^"]+\.js)"\s*;?[ \t]*\n', re.M)
_ANY_IMPORT = re.compile(r"^\s*import\b", re.M)
_EXPORT = re.compile(r"^export\s+(?:async\s+)?(?:function\*?|const|let|class)\s+([A-Za-z_$][\w$]*)", re.M)


class FrontEndError(ValueError):
    """A front-end module uses an import form the joiner does not support."""


def static_file(name: str) -> Path | None:
    """Find a front-end file: ``static/`` in a wheel (force-included from js/), else the repo's js/."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "static" / name, here.parent / "js" / name):
        if candidate.is_file():
            return candidate
    return None


def join_modules(entry: Path) -> str:
    """``entry`` with every local module it imports (recursively) placed before it, each wrapped in a
    scope of its own (see the module docstring), imports replaced by unpacking the wrapped exports."""
    entry = entry.resolve()
    root = entry.parent
    parts: list[tuple[Path, str]] = []
    handles: dict[Path, str] = {}
    visiting: set[Path] = set()

    def visit(path: Path) -> None:
        if path in handles:
            return
        if path in visiting:
            raise FrontEndError(f"{path.name}: circular import")
        visiting.add(path)
        text = path.read_text(encoding="utf-8")
        unpack = []
        for match in _LOCAL_IMPORT.finditer(text):
            names = [n.strip() for n in match.group(1).split(",") if n.strip()]
            dependency = (path.parent / match.group(2)).resolve()
            if not dependency.is_file():
                raise FrontEndError(f"{path.name} imports {match.group(2)}, which does not exist")
            exported = exports_of(dependency)
            for name in names:
                if not re.fullmatch(r"[A-Za-z_$][\w$]*", name):
                    raise FrontEndError(f"{path.name}: write `import {{ {name} }}` without renaming")
                if name not in exported:
                    raise FrontEndError(f"{path.name} imports {name}, which {dependency.name} does not export")
            visit(dependency)
            unpack.append(f"const {{ {', '.join(names)} }} = {handles[dependency]};\n")
        body = _LOCAL_IMPORT.sub("", text)
        if _ANY_IMPORT.search(body):
            raise FrontEndError(
                f'{path.name}: only `import {{ ... }} from "./file.js";` between the project\'s '
                f"own modules is supported (no packages or URLs: the wheel works offline)"
            )
        if path != entry and re.search(r"^export\s+default\b", body, re.M):
            raise FrontEndError(f"{path.name} is imported, so it must not have a default export")
        visiting.discard(path)
        label = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
        if path == entry:
            parts.append((label, "".join(unpack) + body))
            handles[path] = ""
            return
        handle = f"__gcw_module_{len(handles)}"
        handles[path] = handle
        inner = re.sub(r"^export\s+", "", body, flags=re.M)
        names = ", ".join(exports_of(path))
        parts.append((label, f"const {handle} = (() => {{\n{''.join(unpack)}{inner}\nreturn {{ {names} }};\n}})();"))

    visit(entry)
    return "\n".join(f"// ---- {label} ----\n{text}" for label, text in parts)


def exports_of(path: Path) -> list[str]:
    """The names a module exports, in order; a :class:`FrontEndError` for an export the joiner cannot
    read (see the module docstring)."""
    text = path.read_text(encoding="utf-8")
    names = []
    for line in (m.group() for m in re.finditer(r"^[ \t]*export\b(?!\s+default\b).*$", text, re.M)):
        match = _EXPORT.match(line.lstrip())
        if match is None or _declares_several(line):
            raise FrontEndError(
                f"{path.name}: cannot read `{line.strip()[:60]}`; export one name per statement "
                f"as `export function|class|const|let NAME`"
            )
        names.append(match.group(1))
    if len(set(names)) != len(names):
        raise FrontEndError(f"{path.name} exports a name twice")
    return names


def _declares_several(line: str) -> bool:
    """``export const a = 1, b = 2``: a comma outside brackets and strings on a const/let line."""
    if not re.match(r"\s*export\s+(?:const|let)\b", line):
        return False
    depth, quote = 0, ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote and line[i - 1] != "\\":
                quote = ""
        elif ch in "'\"`":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            return True
        elif ch == "/" and line[i + 1 : i + 2] == "/":
            return False
    return False


@lru_cache(maxsize=None)
def _joined(path: Path, mtime: float) -> str:
    return join_modules(path)


def front_end_source(name: str, fallback: str = ""):
    """The front-end file as the browser needs it: an ES module with its local imports inlined.

    Text, not a Path: anywidget turns a Path into a file watcher that keeps a strong reference to
    every widget ever created (and so to its model and image). ``ANYWIDGET_HMR=1`` (live reload while
    developing) gets the Path of a file without imports (CSS); modules are joined either way.
    """
    path = static_file(name)
    if path is None:
        return fallback
    if path.suffix != ".js":
        if os.environ.get("ANYWIDGET_HMR") == "1":
            return path
        return path.read_text(encoding="utf-8")
    return _joined(path, path.stat().st_mtime)
