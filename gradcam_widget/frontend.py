"""The front-end files, found in the wheel or the repository, with their local imports inlined.

anywidget loads ``_esm`` from a Blob URL, where ``import ... from "./lib/maps.js"`` cannot resolve.
The front end is still written as small ES modules (node's tests import them as they are), and this
module joins one entry module and the modules it imports into one text, each file once, in
dependency order. It is not a bundler: it accepts only ``import { a, b } from "./file.js";`` between
the project's own files, refuses everything else (package or URL imports, ``as`` renames, a name
declared twice), and changes nothing else in the code.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

_LOCAL_IMPORT = re.compile(r'^import\s*\{([^}]*)\}\s*from\s*"(\.{1,2}/[^"]+\.js)"\s*;?[ \t]*\n', re.M)
_ANY_IMPORT = re.compile(r"^\s*import\b", re.M)
_DECLARATION = re.compile(r"^(export\s+)?(?:async\s+)?(?:function\*?|const|let|class)\s+([A-Za-z_$][\w$]*)", re.M)


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
    """``entry`` with every local module it imports (recursively) placed before it, imports removed."""
    entry = entry.resolve()
    parts: list[tuple[Path, str]] = []
    visiting: set[Path] = set()
    done: set[Path] = set()

    def visit(path: Path) -> None:
        if path in done:
            return
        if path in visiting:
            raise FrontEndError(f"{path.name}: circular import")
        visiting.add(path)
        text = path.read_text(encoding="utf-8")
        for match in _LOCAL_IMPORT.finditer(text):
            names = [n.strip() for n in match.group(1).split(",") if n.strip()]
            dependency = (path.parent / match.group(2)).resolve()
            if not dependency.is_file():
                raise FrontEndError(f"{path.name} imports {match.group(2)}, which does not exist")
            exported = {m.group(2) for m in _DECLARATION.finditer(dependency.read_text(encoding="utf-8"))
                        if m.group(1)}
            for name in names:
                if not re.fullmatch(r"[A-Za-z_$][\w$]*", name):
                    raise FrontEndError(f"{path.name}: write `import {{ {name} }}` without renaming")
                if name not in exported:
                    raise FrontEndError(f"{path.name} imports {name}, which {dependency.name} does not export")
            visit(dependency)
        body = _LOCAL_IMPORT.sub("", text)
        if _ANY_IMPORT.search(body):
            raise FrontEndError(f"{path.name}: only `import {{ ... }} from \"./file.js\";` between the project's "
                                f"own modules is supported (no packages or URLs: the wheel works offline)")
        if path != entry and re.search(r"^export\s+default\b", body, re.M):
            raise FrontEndError(f"{path.name} is imported, so it must not have a default export")
        visiting.discard(path)
        done.add(path)
        parts.append((path, body))

    visit(entry)
    owners: dict[str, str] = {}
    for path, body in parts:
        for match in _DECLARATION.finditer(body):
            name = match.group(2)
            if name in owners:
                raise FrontEndError(f"{name} is declared in both {owners[name]} and {path.name}; joined into "
                                    f"one module the names would clash: rename one")
            owners[name] = path.name
    root = entry.parent
    return "\n".join(f"// ---- {p.relative_to(root).as_posix() if p.is_relative_to(root) else p.name} ----\n{b}"
                     for p, b in parts)


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
