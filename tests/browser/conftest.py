"""Shared set-up for the real-browser tests: Debian's headless Chromium driven by Python playwright.

The tests run when Chromium (/usr/bin/chromium, or `chromium` on PATH) and the `playwright` package are
both present, and are skipped with a clear reason otherwise, so a learner's laptop is never blocked.
Playwright's own browser downloads are never used (no `playwright install`).

Servers (JupyterLab, Notebook 7, a static file server for the book) listen on 127.0.0.1 only, on a
free port, and are stopped at the end of the module that started them. Every wait is bounded.
Screenshots go to _screenshots/ (git-ignored) at the repository root.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "_screenshots"
TOKEN = "attention-step-by-step-browser-test"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def find_chromium() -> str | None:
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    return shutil.which("chromium") or shutil.which("chromium-browser")


def why_skip() -> str | None:
    if find_chromium() is None:
        return "no Chromium (/usr/bin/chromium or chromium on PATH); on Debian: apt-get install chromium"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (make setup installs it)"
    return None


def pytest_collection_modifyitems(config, items):
    reason = why_skip()
    if reason and os.environ.get("AU_REQUIRE_BROWSER") == "1":
        raise pytest.UsageError(f"AU_REQUIRE_BROWSER=1 (CI) but {reason}")
    for item in items:
        if "tests/browser" in item.nodeid.replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)
            if reason:
                item.add_marker(pytest.mark.skip(reason=f"browser tests skipped: {reason}"))


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives headless Chromium (tests/browser)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError as error:
            last = error
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s ({last})")


def stop_process_group(proc: subprocess.Popen, timeout: float = 20) -> None:
    """Stop a server we started (it leads its own process group, so its kernels stop with it)."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    return SCREENSHOTS


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    # launch() gives Chromium a fresh temporary profile (--user-data-dir) of its own each time and
    # removes it on close; playwright refuses the flag given by hand.
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=find_chromium(), headless=True, args=CHROMIUM_FLAGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    context.close()


# --- Jupyter servers -------------------------------------------------------------------------------


def _jupyter_env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("config", "runtime", "data", "settings", "workspaces"):
        (tmp / name).mkdir(parents=True, exist_ok=True)
    env.update(
        JUPYTER_CONFIG_DIR=str(tmp / "config"),
        JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
        JUPYTER_DATA_DIR=str(tmp / "data"),
        JUPYTERLAB_SETTINGS_DIR=str(tmp / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"),
        JUPYTER_PLATFORM_DIRS="1",
        OMP_NUM_THREADS=env.get("OMP_NUM_THREADS", "2"),
        MKL_NUM_THREADS=env.get("MKL_NUM_THREADS", "2"),
        PYTHONHASHSEED="0",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        MPLBACKEND="module://matplotlib_inline.backend_inline",
    )
    # The announcements plugin's news toast covers the notebook; switch it off.
    labconfig = tmp / "config" / "labconfig"
    labconfig.mkdir(parents=True, exist_ok=True)
    (labconfig / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}})
    )
    # Keep every cell in the DOM (no windowed rendering), so outputs far down can be measured.
    tracker = tmp / "settings" / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True, exist_ok=True)
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    return env


@contextlib.contextmanager
def jupyter_server(app: str):
    """Start `jupyter lab` or `jupyter notebook` on a copy of notebooks/ and yield its base URL."""
    tmp = Path(tempfile.mkdtemp(prefix=f"au-{app}-"))
    root = tmp / "root"
    shutil.copytree(ROOT / "notebooks", root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    port = free_port()
    app_class = "LabApp" if app == "lab" else "JupyterNotebookApp"
    cmd = [
        sys.executable,
        "-m",
        "jupyter",
        app,
        "--no-browser",
        "--allow-root",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--port-retries=0",
        f"--ServerApp.token={TOKEN}",
        f"--ServerApp.root_dir={root}",
        f"--{app_class}.expose_app_in_browser=True",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    log = open(tmp / "server.log", "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(
        cmd, env=_jupyter_env(tmp), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_for_http(f"{base}/api/status?token={TOKEN}", timeout=120, proc=proc)
        except (RuntimeError, TimeoutError) as error:
            log.flush()
            raise RuntimeError(
                f"{error}\n--- server log ---\n{(tmp / 'server.log').read_text()[-3000:]}"
            ) from None
        yield base
    finally:
        stop_process_group(proc)
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


# --- a static server for the book ------------------------------------------------------------------


@contextlib.contextmanager
def static_server(directory: Path):
    handler = functools.partial(_QuietHandler, directory=str(directory))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest's output readable
        pass
