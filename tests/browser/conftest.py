"""Real-browser test harness: one Jupyter server, Debian's Chromium driven by Playwright.

Use it through the ``open_notebook`` fixture (bottom of this file)::

    nb = open_notebook([cell1, cell2], "lab")      # or "notebook" for Notebook 7
    nb.page                                        # the Playwright page
    nb.kernel.eval("w.selected_class")             # a value from the notebook's kernel
    nb.kernel.wait_for("w.selected_class", 3)      # poll until it holds
    nb.screenshot("label")                         # test-artifacts/<test>--label.png

The pieces:

- ``JupyterServer``: a ``jupyter lab`` process on 127.0.0.1 (free port, random token) with its
  root, user-settings, workspaces, config, runtime and IPython dirs in a temp dir; news toast and
  notebook windowing off. It serves JupyterLab 4 at ``/lab`` and Notebook 7 at ``/notebooks``.
  Stopped by its PID: POST /api/shutdown, then SIGTERM, then SIGKILL.
- ``KernelPool``: kernels started through the REST API with TensorFlow/Keras imported in the
  background, bound to a test's notebook by creating its session before the page opens. After
  the test the kernel is reset (widgets closed, user namespace cleared) and reused, so the
  TensorFlow import is paid once per session. A test that changes module state sets
  ``nb.discard_kernel = True``; a failed test's kernel is always dropped.
- ``LabPages``: JupyterLab is loaded once (while the first kernel warms up) and each test's
  notebook is opened inside it (``window.jupyterapp``), then closed; a failed test's page is
  thrown away. Notebook 7 gets a fresh page per notebook.
- ``KernelClient``: a second client on a kernel's websocket, to run Python and read values back
  (the notebook UI keeps its own connection; replies are matched by parent message id).
- ``NotebookPage``: one test's notebook: waits for the kernel (idle in /api/sessions, a kernel
  name in the toolbar, the execution indicator idle), runs all cells from the Run menu, collects
  page errors and console errors (the test fails on those that come from a widget).

Without /usr/bin/chromium or Playwright the tests skip with a loud message; with CI=true they fail.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Callable

import nbformat
import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
UIS = ("lab", "notebook")

# Code run in every pooled kernel before a test gets it: the imports the test notebooks need.
WARMUP_CODE = """
import os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import json, numpy
try:
    import keras, tensorflow
except Exception:
    pass
try:
    import anywidget, gradcam_widget
except Exception:
    pass
"""


# Run in a kernel given back after a test, before the next test gets it.
RESET_CODE = """
try:
    import ipywidgets
    ipywidgets.Widget.close_all()
except Exception:
    pass
def _gcw_reset(ip=get_ipython()):
    # What %reset -f does, without its gc.collect() (a second with TensorFlow loaded).
    for name in [n for n in ip.user_ns if n not in ip.user_ns_hidden]:
        del ip.user_ns[name]
    ip.user_ns["Out"].clear()
    ip.history_manager.output_hist.clear()
    ip.user_ns.update({"_": "", "__": "", "___": ""})
_gcw_reset()
"""


class HarnessError(AssertionError):
    """Something in the page or the kernel did not happen in time (fails the test)."""


class KernelError(HarnessError):
    """Code run through ``KernelClient`` raised in the kernel."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.05):
    """Poll ``predicate`` until it returns something truthy; return that value."""
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - kept for the message
            last_exc = exc
        if time.monotonic() > deadline:
            extra = f" (last error: {last_exc!r})" if last_exc else ""
            raise HarnessError(f"timed out after {timeout:.0f} s waiting for {what}{extra}")
        time.sleep(interval)


# --------------------------------------------------------------------------------------------
# Jupyter server
# --------------------------------------------------------------------------------------------
class JupyterServer:
    def __init__(self, base_dir: Path):
        self.base_dir = Path(base_dir)
        self.root_dir = self.base_dir / "root"
        self.settings_dir = self.base_dir / "user-settings"
        self.workspaces_dir = self.base_dir / "workspaces"
        self.config_dir = self.base_dir / "config"
        self.runtime_dir = self.base_dir / "runtime"
        self.ipython_dir = self.base_dir / "ipython"
        self.log_path = self.base_dir / "jupyter-server.log"
        self.port = free_port()
        self.token = secrets.token_hex(24)
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self._log_file = None

    # -- lifecycle ---------------------------------------------------------------------------
    def _write_user_settings(self) -> None:
        settings = {
            "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
                "fetchNews": "false",
                "checkForUpdates": False,
            },
            "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
        }
        for name, value in settings.items():
            plugin_dir, file_name = name.rsplit("/", 1)
            target = self.settings_dir / plugin_dir
            target.mkdir(parents=True, exist_ok=True)
            (target / file_name).write_text(json.dumps(value))

    def start(self, timeout: float = 60.0) -> None:
        for d in (
            self.root_dir,
            self.settings_dir,
            self.workspaces_dir,
            self.config_dir,
            self.runtime_dir,
            self.ipython_dir,
        ):
            d.mkdir(parents=True, exist_ok=True)
        self._write_user_settings()
        env = dict(os.environ)
        env.update(
            JUPYTER_CONFIG_DIR=str(self.config_dir),
            JUPYTER_RUNTIME_DIR=str(self.runtime_dir),
            IPYTHONDIR=str(self.ipython_dir),
            JUPYTER_PLATFORM_DIRS="1",
            TF_CPP_MIN_LOG_LEVEL="2",
            CUDA_VISIBLE_DEVICES="-1",
            PYTHONUNBUFFERED="1",
        )
        env.pop("ANYWIDGET_HMR", None)  # hot reload would watch the repo's files
        cmd = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root_dir}",
            f"--LabServerApp.user_settings_dir={self.settings_dir}",
            f"--LabServerApp.workspaces_dir={self.workspaces_dir}",
            "--ServerApp.open_browser=False",
            "--LabApp.news_url=",
            # window.jupyterapp: lets a Lab page that is already loaded open the next test's notebook
            "--LabApp.expose_app_in_browser=True",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--ServerApp.allow_root=True")
        self._log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            cmd,
            cwd=self.root_dir,
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

        def ready():
            if self.proc.poll() is not None:
                raise HarnessError(f"jupyter lab exited with code {self.proc.returncode}:\n{self.log_tail()}")
            try:
                return self.api("GET", "/api/status", timeout=2) is not None
            except (urllib.error.URLError, ConnectionError, OSError):
                return False

        try:
            wait_until(ready, timeout, "the Jupyter server's /api/status", interval=0.1)
        except HarnessError as exc:
            if self.proc.poll() is not None:
                raise
            self.stop()
            raise HarnessError(f"{exc}\n{self.log_tail()}") from None

    def stop(self) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            try:  # stops the kernels too
                self.api("POST", "/api/shutdown", timeout=5)
            except Exception:  # noqa: BLE001 - escalate below
                pass
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
        self.proc = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def log_tail(self, n: int = 40) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no server log)"
        return "\n".join(lines[-n:])

    # -- HTTP ----------------------------------------------------------------------------------
    def api(self, method: str, path: str, body: Any = None, timeout: float = 10) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        req.add_header("Authorization", f"token {self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else {}

    def page_url(self, ui: str, path: str, workspace: str) -> str:
        if ui == "lab":
            # A workspace of its own per page, so Lab never reopens an earlier test's tabs.
            return f"{self.base_url}/lab/workspaces/{workspace}/tree/{path}?token={self.token}"
        if ui == "notebook":
            return f"{self.base_url}/notebooks/{path}?token={self.token}"
        raise ValueError(f"unknown UI {ui!r}; use one of {UIS}")

    def session_for(self, path: str) -> dict | None:
        for s in self.api("GET", "/api/sessions"):
            if s.get("path") == path:
                return s
        return None

    def delete_session(self, path: str, wait: bool = False) -> None:
        """Shut down the notebook's session and kernel (in the background unless ``wait``)."""
        s = self.session_for(path)
        if s is None:
            return

        def work():
            try:
                self.api("DELETE", f"/api/sessions/{s['id']}", timeout=30)
            except Exception:  # noqa: BLE001 - the server shutdown stops it anyway
                pass

        if wait:
            work()
        else:
            threading.Thread(target=work, name="delete-session", daemon=True).start()

    def write_notebook(self, name: str, cells: list[str]) -> str:
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
        nb.metadata["language_info"] = {"name": "python"}
        nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
        path = self.root_dir / name
        nbformat.write(nb, path)
        return name


# --------------------------------------------------------------------------------------------
# Kernel websocket client
# --------------------------------------------------------------------------------------------
class KernelClient:
    """Runs code in a running kernel over ``/api/kernels/<id>/channels``."""

    def __init__(self, server: JupyterServer, kernel_id: str):
        import websocket  # websocket-client, a dependency of jupyter_server

        self.server = server
        self.kernel_id = kernel_id
        self.session = uuid.uuid4().hex
        url = f"ws://127.0.0.1:{server.port}/api/kernels/{kernel_id}/channels?session_id={self.session}"
        self.ws = websocket.create_connection(url, header=[f"Authorization: token {server.token}"], timeout=30)
        self._lock = threading.Lock()

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:  # noqa: BLE001
            pass

    def execute(self, code: str, timeout: float = 60.0) -> str:
        """Run ``code``; return its stdout. Raises ``KernelError`` if it raised."""
        with self._lock:
            msg_id = uuid.uuid4().hex
            msg = {
                "header": {
                    "msg_id": msg_id,
                    "username": "tests",
                    "session": self.session,
                    "msg_type": "execute_request",
                    "version": "5.3",
                    "date": time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime()),
                },
                "parent_header": {},
                "metadata": {},
                "buffers": [],
                "channel": "shell",
                "content": {
                    "code": code,
                    "silent": False,
                    "store_history": False,
                    "user_expressions": {},
                    "allow_stdin": False,
                    "stop_on_error": True,
                },
            }
            self.ws.send(json.dumps(msg))
            out: list[str] = []
            error = None
            got_reply = got_idle = False
            deadline = time.monotonic() + timeout
            while not (got_reply and got_idle):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise HarnessError(f"kernel did not answer within {timeout:.0f} s: {code[:200]}")
                self.ws.settimeout(remaining)
                frame = self.ws.recv()
                if not isinstance(frame, str):
                    continue  # binary frames carry comm buffers (widget maps): not ours
                m = json.loads(frame)
                if m.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind = m.get("msg_type") or m["header"]["msg_type"]
                content = m.get("content", {})
                if kind == "stream" and content.get("name") == "stdout":
                    out.append(content.get("text", ""))
                elif kind == "error":
                    error = content
                elif kind == "execute_reply":
                    got_reply = True
                    if content.get("status") == "error" and error is None:
                        error = content
                elif kind == "status" and content.get("execution_state") == "idle":
                    got_idle = True
            if error is not None:
                tb = "\n".join(error.get("traceback", []))
                tb = re.sub(r"\x1b\[[0-9;]*m", "", tb)
                raise KernelError(f"{error.get('ename')}: {error.get('evalue')}\n{tb}")
            return "".join(out)

    def eval(self, expr: str, timeout: float = 60.0) -> Any:
        """Evaluate a Python expression in the kernel and return it through JSON."""
        marker = "@@gcw-json@@"
        text = self.execute(f"print({marker!r} + __import__('json').dumps({expr}))", timeout=timeout)
        for line in text.splitlines():
            if line.startswith(marker):
                return json.loads(line[len(marker) :])
        raise HarnessError(f"no value printed for {expr!r}: {text!r}")

    def wait_for(self, expr: str, expected: Any, timeout: float = 15.0) -> float:
        """Poll ``expr`` in the kernel until it equals ``expected``; return the seconds it took."""
        t0 = time.monotonic()
        seen: list[Any] = []

        def check():
            value = self.eval(expr)
            seen.append(value)
            return value == expected

        try:
            wait_until(check, timeout, f"kernel: {expr} == {expected!r}", interval=0.05)
        except HarnessError as exc:
            raise HarnessError(f"{exc}; last values seen: {seen[-3:]!r}") from None
        return time.monotonic() - t0


# --------------------------------------------------------------------------------------------
# Warm kernels
# --------------------------------------------------------------------------------------------
class KernelPool:
    """Warm kernels (imports done), reused from test to test.

    A test takes a kernel and binds it to its notebook by creating (or re-pointing) the session
    before the page opens, so the UI connects to it instead of starting a new one. At teardown
    the kernel is given back: every widget is closed, the user namespace and Keras' global state
    are cleared, and it waits for the next test with TensorFlow already imported. A kernel that
    fails the reset is shut down and replaced by a fresh one.
    """

    def __init__(self, server: JupyterServer, warmup_code: str = WARMUP_CODE, reset_code: str = RESET_CODE):
        self.server = server
        self.warmup_code = warmup_code
        self.reset_code = reset_code
        self._idle: list[tuple[str, str | None]] = []  # (kernel id, session id or None)
        self._pending = 0
        self._errors: list[BaseException] = []
        self._cond = threading.Condition()
        self._closed = False
        self.kernels_started = 0

    def _warm_one(self) -> None:
        def work():
            try:
                kernel = self.server.api("POST", "/api/kernels", {"name": "python3"}, timeout=60)
                client = KernelClient(self.server, kernel["id"])
                try:
                    client.execute(self.warmup_code, timeout=180)
                finally:
                    client.close()
                with self._cond:
                    self._idle.append((kernel["id"], None))
            except BaseException as exc:  # noqa: BLE001 - reported to the taker
                with self._cond:
                    self._errors.append(exc)
            finally:
                with self._cond:
                    self._pending -= 1
                    self._cond.notify_all()

        with self._cond:
            self._pending += 1
            self.kernels_started += 1
        threading.Thread(target=work, name="warm-kernel", daemon=True).start()

    def fill(self) -> None:
        """Start warming a kernel unless one is idle or on its way."""
        with self._cond:
            need = not self._idle and self._pending == 0
        if need:
            self._warm_one()

    def bind(self, path: str, timeout: float = 180.0) -> str:
        """Attach a warm kernel to the notebook at ``path``; return the kernel id."""
        self.fill()
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._idle:
                if self._errors:
                    raise HarnessError(f"warming a kernel failed: {self._errors.pop()!r}")
                if self._pending == 0:
                    self.fill()  # the Condition's lock is an RLock
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise HarnessError("no warm kernel within the timeout")
                self._cond.wait(remaining)
            kid, session_id = self._idle.pop(0)
        if session_id is None:
            self.server.api(
                "POST", "/api/sessions", {"path": path, "name": path, "type": "notebook", "kernel": {"id": kid}}
            )
        else:
            self.server.api("PATCH", f"/api/sessions/{session_id}", {"path": path, "name": path})
        return kid

    def give_back(self, path: str) -> None:
        """Reset the kernel of the notebook at ``path`` for the next test (or shut it down)."""
        session = self.server.session_for(path)
        if session is None:
            return
        kid = session["kernel"]["id"]
        try:
            client = KernelClient(self.server, kid)
            try:
                client.execute(self.reset_code, timeout=60)
            finally:
                client.close()
        except Exception:  # noqa: BLE001 - a broken kernel is replaced, not reused
            self.server.delete_session(path)
            return
        with self._cond:
            if self._closed:
                return
            self._idle.append((kid, session["id"]))
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._idle = []
        # the server's shutdown stops the kernels


# --------------------------------------------------------------------------------------------
# A notebook open in a browser page
# --------------------------------------------------------------------------------------------
WIDGET_ERROR_PATTERN = re.compile(r"blob:|anywidget|gradcam|gcw-|\bgcw\b", re.IGNORECASE)


class NotebookPage:
    """One test's notebook in a browser page.

    ``page`` is either a fresh page (the notebook URL is loaded) or, for JupyterLab, a page that
    already runs Lab from an earlier test (``in_app=True``): the notebook is then opened inside
    the running app, which saves the 3-5 s of loading Lab again. Errors are collected only while
    this object is open, so each test sees its own.
    """

    def __init__(
        self, server: JupyterServer, page, ui: str, path: str, artifacts: Path, label: str, in_app: bool = False
    ):
        self.server = server
        self.page = page
        self.ui = ui
        self.path = path
        self.artifacts = artifacts
        self.label = label
        self.in_app = in_app
        self.page_errors: list[str] = []
        self.console_errors: list[str] = []
        self.kernel: KernelClient | None = None
        self.timings: dict[str, float] = {}
        # Kernels are reused between tests (user namespace cleared, modules kept): a test that
        # changes module state (monkeypatching a class, say) sets this so its kernel is dropped.
        self.discard_kernel = False
        self.page.on("pageerror", self._on_page_error)
        self.page.on("console", self._on_console)

    # -- error collection ------------------------------------------------------------------
    def _on_page_error(self, err) -> None:
        stack = getattr(err, "stack", None) or ""
        self.page_errors.append(f"{err.message}\n{stack}".strip())

    def _on_console(self, msg) -> None:
        if msg.type == "error":
            loc = msg.location or {}
            self.console_errors.append(f"{msg.text} @ {loc.get('url', '')}".strip())

    def widget_errors(self) -> list[str]:
        """Page errors and console errors that come from a widget (its Blob-URL module,
        anywidget, or this project's names); Lab's and Notebook 7's own noise is ignored."""
        found = [e for e in self.page_errors if WIDGET_ERROR_PATTERN.search(e)]
        found += [e for e in self.console_errors if WIDGET_ERROR_PATTERN.search(e)]
        return found

    def take_widget_errors(self) -> list[str]:
        """Return the widget errors so far and forget them (for tests that expect some)."""
        found = self.widget_errors()
        self.page_errors = [e for e in self.page_errors if e not in found]
        self.console_errors = [e for e in self.console_errors if e not in found]
        return found

    # -- opening and running ---------------------------------------------------------------
    def open(self, timeout: float = 60.0) -> None:
        """Open the notebook (its session and kernel must exist already: ``KernelPool.bind``)."""
        t0 = time.monotonic()
        if self.in_app:
            self.page.evaluate(
                """async (path) => {
                    const app = window.jupyterapp;
                    await app.serviceManager.sessions.refreshRunning();
                    await app.commands.execute('docmanager:open', {path, factory: 'Notebook'});
                }""",
                self.path,
            )
        else:
            workspace = re.sub(r"[^A-Za-z0-9-]", "-", Path(self.path).stem)
            self.page.goto(self.server.page_url(self.ui, self.path, workspace), wait_until="domcontentloaded")
        self.wait_kernel_ready(timeout)
        session = self.server.session_for(self.path)
        self.kernel = KernelClient(self.server, session["kernel"]["id"])
        self.timings["open"] = time.monotonic() - t0

    def new_kernel_client(self) -> KernelClient:
        """Another client on this notebook's kernel (e.g. to keep it busy from a thread)."""
        return KernelClient(self.server, self.kernel.kernel_id)

    def wait_kernel_ready(self, timeout: float = 60.0) -> None:
        """The three conditions together: session kernel idle in the REST API, a kernel name
        in the visible panel's toolbar, and the execution indicator idle."""

        def ready():
            s = self.server.session_for(self.path)
            if not s or s.get("kernel", {}).get("execution_state") != "idle":
                return False
            return self.page.evaluate(
                """() => {
                    const panels = [...document.querySelectorAll('.jp-NotebookPanel')]
                        .filter(p => p.offsetParent !== null && !p.classList.contains('lm-mod-hidden'));
                    if (panels.length === 0) return false;
                    const p = panels[0];
                    const name = p.querySelector('.jp-Toolbar-kernelName');
                    const label = name && (name.getAttribute('aria-label') || name.textContent || '').trim();
                    if (!label || label === 'No Kernel' || /no kernel/i.test(label)) return false;
                    return document.querySelector('.jp-Notebook-ExecutionIndicator[data-status=idle]') !== null;
                }"""
            )

        wait_until(ready, timeout, f"an idle kernel for {self.path} in {self.ui}", interval=0.1)

    def run_all(self) -> None:
        t0 = time.monotonic()
        self.page.locator(".lm-MenuBar-item").filter(has_text=re.compile(r"^\s*Run\s*$")).first.click()
        self.page.locator(".lm-Menu-item[data-command='runmenu:run-all']").click()
        self.timings["run_all_click"] = time.monotonic() - t0

    def wait_for_selector(self, selector: str, timeout: float = 60.0):
        loc = self.page.locator(selector).first
        loc.wait_for(state="attached", timeout=timeout * 1000)
        return loc

    def cell_error_text(self) -> str:
        """Text of any error output in the notebook (to explain a widget that never showed)."""
        return self.page.evaluate(
            """() => [...document.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"], .jp-RenderedText[data-mime-type="application/vnd.jupyter.error"]')]
                   .map(e => e.textContent).join('\\n---\\n')"""
        )

    def wait_ready(self, selector: str, timeout: float = 90.0) -> float:
        """Wait for ``selector`` to be attached; on timeout, report the notebook's error outputs."""
        t0 = time.monotonic()
        try:
            self.wait_for_selector(selector, timeout)
        except Exception as exc:
            errors = ""
            try:
                errors = self.cell_error_text()
            except Exception:  # noqa: BLE001
                pass
            self.screenshot("not-ready")
            raise HarnessError(
                f"{selector} did not appear within {timeout:.0f} s in {self.ui}.\n"
                f"Notebook error output:\n{errors[-3000:] or '(none)'}\n"
                f"Widget errors: {self.widget_errors()}\n({exc.__class__.__name__})"
            ) from None
        self.timings["ready"] = time.monotonic() - t0
        return self.timings["ready"]

    # -- artifacts -------------------------------------------------------------------------
    def screenshot(self, suffix: str = "", scroll_to: str | None = None) -> Path:
        """Save ``test-artifacts/<test>[--suffix].png`` (viewport; ``scroll_to`` a selector first)."""
        self.artifacts.mkdir(parents=True, exist_ok=True)
        name = self.label + (f"--{suffix}" if suffix else "")
        path = self.artifacts / f"{name}.png"
        if scroll_to:
            try:
                loc = self.page.locator(scroll_to).first
                if loc.count():
                    loc.scroll_into_view_if_needed(timeout=2000)
            except Exception:  # noqa: BLE001 - a screenshot of whatever is there still helps
                pass
        self.page.screenshot(path=str(path), scale="css")
        return path

    def close_notebook_in_app(self) -> bool:
        """Close every document in Lab's main area without save dialogs (the page stays, ready
        for the next notebook). False when the page is not in a state to be reused."""
        try:
            return bool(
                self.page.evaluate(
                    """() => {
                    const app = window.jupyterapp;
                    if (!app || document.querySelector('.jp-Dialog')) return false;
                    for (const w of [...app.shell.widgets('main')]) {
                        if (w.context && w.context.model) w.context.model.dirty = false;
                        w.dispose();
                    }
                    return document.querySelectorAll('.jp-NotebookPanel').length === 0;
                }"""
                )
            )
        except Exception:  # noqa: BLE001
            return False

    def close(self) -> None:
        """Stop listening to the page (the caller closes or reuses the page itself)."""
        if self.kernel is not None:
            self.kernel.close()
        self.page.remove_listener("pageerror", self._on_page_error)
        self.page.remove_listener("console", self._on_console)


def chromium_unavailable_reason() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return (
            f"Chromium not found at {CHROMIUM}: install it with `apt-get install -y chromium` "
            f"(never `playwright install`)"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is missing: `pip install playwright` (the test extra)"
    return None


def sanitize(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")[:120]


# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------
REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS_DIR = REPO_ROOT / "test-artifacts"
WIDGET_READY = "[data-testid=gcw-root][data-ready=true]"


def require_browser() -> None:
    """Skip loudly when Chromium/Playwright are missing; in CI (CI=true) fail instead."""
    reason = chromium_unavailable_reason()
    if reason is None:
        return
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(f"BROWSER TESTS CANNOT RUN IN CI (CI=true): {reason}", pytrace=False)
    pytest.skip(f"!!! BROWSER TESTS SKIPPED !!! {reason}")


@pytest.fixture(scope="session")
def jupyter_server(tmp_path_factory):
    require_browser()
    server = JupyterServer(tmp_path_factory.mktemp("jupyter"))
    t0 = time.monotonic()
    server.start()
    print(f"\n[browser] jupyter server ready in {time.monotonic() - t0:.1f} s at {server.base_url}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def kernel_pool(jupyter_server):
    pool = KernelPool(jupyter_server)
    pool.fill()
    yield pool
    pool.close()


@pytest.fixture(scope="session")
def browser():
    require_browser()
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    try:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    except Exception:
        pw.stop()
        raise
    yield b
    try:
        b.close()
    finally:
        pw.stop()


LAB_DEVICE_SCALE_FACTOR = 2  # Lab pages are hi-DPI (canvas backing size may differ from CSS size)
NOTEBOOK_DEVICE_SCALE_FACTOR = 1
DEFAULT_VIEWPORT = (1280, 900)


class LabPages:
    """JupyterLab pages kept across tests (one per device scale factor and viewport).

    Loading JupyterLab costs 3-5 s on two cores. The default page is loaded while the first
    kernel warms up; each test's notebook is opened inside it and closed afterwards. A page
    whose test failed (or that shows a dialog) is thrown away and the next test loads a new one.
    """

    def __init__(self, browser, server: JupyterServer):
        self.browser = browser
        self.server = server
        self._pages: dict[tuple, tuple[Any, Any]] = {}
        self._count = 0

    def _load(self, key) -> Any:
        device_scale_factor, viewport = key
        context = self.browser.new_context(
            viewport={"width": viewport[0], "height": viewport[1]}, device_scale_factor=device_scale_factor
        )
        page = context.new_page()
        self._count += 1
        url = f"{self.server.base_url}/lab/workspaces/tests-{self._count}?reset&token={self.server.token}"
        try:
            page.goto(url, wait_until="domcontentloaded")
            page.wait_for_function("() => window.jupyterapp !== undefined", timeout=60_000)
            page.evaluate("async () => { await window.jupyterapp.restored; }")
        except Exception:
            context.close()
            raise
        self._pages[key] = (context, page)
        return page

    def get(self, device_scale_factor: float, viewport: tuple[int, int]):
        """A loaded JupyterLab page (``window.jupyterapp`` ready) with nothing open in it."""
        key = (device_scale_factor, tuple(viewport))
        page = self._pages[key][1] if key in self._pages else self._load(key)
        page.evaluate(
            """() => { for (const w of [...window.jupyterapp.shell.widgets('main')]) {
                   if (w.context && w.context.model) w.context.model.dirty = false;
                   w.dispose(); } }"""
        )
        return page

    def preload(self) -> None:
        self.get(LAB_DEVICE_SCALE_FACTOR, DEFAULT_VIEWPORT)

    def discard(self, page) -> None:
        for key, (context, p) in list(self._pages.items()):
            if p is page:
                del self._pages[key]
                try:
                    context.close()
                except Exception:  # noqa: BLE001
                    pass

    def close(self) -> None:
        for context, _ in self._pages.values():
            try:
                context.close()
            except Exception:  # noqa: BLE001
                pass
        self._pages.clear()


@pytest.fixture(scope="session")
def lab_pages(browser, jupyter_server, kernel_pool):
    pages = LabPages(browser, jupyter_server)
    t0 = time.monotonic()
    pages.preload()  # overlaps with the first kernel's warm-up (kernel_pool started it)
    print(f"[browser] JupyterLab loaded in {time.monotonic() - t0:.1f} s")
    yield pages
    pages.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Remember each phase's report on the test item (the fixture asks: did the test fail?)."""
    report = yield
    setattr(item, f"_gcw_report_{report.when}", report)
    return report


def _test_failed(request) -> bool:
    return any(
        getattr(getattr(request.node, f"_gcw_report_{when}", None), "failed", False) for when in ("setup", "call")
    )


@pytest.fixture
def open_notebook(request, jupyter_server, kernel_pool, browser, lab_pages):
    """Factory: ``nb = open_notebook(cells, ui="lab", ready=WIDGET_READY)``.

    Writes the cells as a new notebook in the server's temp root, binds a warm kernel to it,
    opens it in JupyterLab (``ui="lab"``) or Notebook 7 (``ui="notebook"``), waits for the
    kernel, runs all cells and waits for ``ready`` (a CSS selector; None to skip running).
    At teardown: a screenshot in ``test-artifacts/`` (``--FAILED`` suffix when the test
    failed), the kernel is reset for the next test, and the test fails if a widget raised a page
    error or logged a console error.
    """
    opened: list[tuple[NotebookPage, Any]] = []
    base = sanitize(request.node.name)

    def _open(
        cells: list[str],
        ui: str = "lab",
        *,
        ready: str | None = WIDGET_READY,
        device_scale_factor: float | None = None,
        viewport=DEFAULT_VIEWPORT,
        timeout: float = 90.0,
    ) -> NotebookPage:
        if ui not in UIS:
            raise ValueError(f"ui must be one of {UIS}, got {ui!r}")
        if device_scale_factor is None:
            device_scale_factor = LAB_DEVICE_SCALE_FACTOR if ui == "lab" else NOTEBOOK_DEVICE_SCALE_FACTOR
        label = base if not opened else f"{base}-{len(opened) + 1}"
        path = jupyter_server.write_notebook(f"{label}.ipynb", cells)
        if ui == "lab" and not opened:
            page, in_app = lab_pages.get(device_scale_factor, viewport), True
            context = None
        else:  # Notebook 7 shows one notebook per page; a second notebook gets its own page too
            context = browser.new_context(
                viewport={"width": viewport[0], "height": viewport[1]}, device_scale_factor=device_scale_factor
            )
            page, in_app = context.new_page(), False
        nb = NotebookPage(jupyter_server, page, ui, path, ARTIFACTS_DIR, label, in_app=in_app)
        opened.append((nb, context))
        t0 = time.monotonic()
        kernel_pool.bind(path)
        nb.timings["kernel"] = time.monotonic() - t0
        nb.open(timeout=timeout)
        if ready is not None:
            nb.run_all()
            nb.wait_ready(ready, timeout=timeout)
        return nb

    yield _open

    failed = _test_failed(request)
    problems = []
    for nb, context in opened:
        t0 = time.monotonic()
        try:
            nb.screenshot("FAILED" if failed else "", scroll_to="[data-testid=gcw-root]")
        except Exception as exc:  # noqa: BLE001
            problems.append(f"screenshot of {nb.label} failed: {exc!r}")
        nb.timings["screenshot"] = time.monotonic() - t0
        errors = nb.widget_errors()
        if errors:
            problems.append(f"widget errors in {nb.ui} ({nb.path}):\n  " + "\n  ".join(errors))
        t0 = time.monotonic()
        nb.close()
        if context is not None:
            try:
                context.close()
            except Exception:  # noqa: BLE001
                pass
        elif failed or errors or not nb.close_notebook_in_app():
            lab_pages.discard(nb.page)
        nb.timings["close"] = time.monotonic() - t0
        t0 = time.monotonic()
        if nb.discard_kernel or failed:
            jupyter_server.delete_session(nb.path)
        else:
            kernel_pool.give_back(nb.path)
        nb.timings["reset"] = time.monotonic() - t0
        ignored = len(nb.page_errors) + len(nb.console_errors) - len(errors)
        print(
            f"[browser] {nb.label}: "
            + ", ".join(f"{k} {v:.2f} s" for k, v in nb.timings.items())
            + (f" ({ignored} page/console errors not from the widget ignored)" if ignored else "")
        )
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)
