"""`make lab` starts JupyterLab as root and on a headless machine, and still as a normal user."""

import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("lab", ROOT / "tools" / "lab.py")
lab = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lab)


def test_root_gets_allow_root_and_headless_gets_no_browser():
    assert lab.lab_args(0, {}, "linux") == ["--allow-root", "--no-browser"]
    assert lab.lab_args(0, {"DISPLAY": ":0"}, "linux") == ["--allow-root"]
    assert lab.lab_args(1000, {"WAYLAND_DISPLAY": "wayland-0"}, "linux") == []
    assert lab.lab_args(1000, {}, "linux") == ["--no-browser"]
    assert lab.lab_args(501, {}, "darwin") == [], "macOS has no DISPLAY but does have a browser"


def test_makefile_lab_uses_the_launcher():
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\nlab:", 1)[1].split("\n\n", 1)[0]
    assert "tools/lab.py" in recipe


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_lab_serves_here(tmp_path):
    """Start the real launcher as whoever runs the tests (root in CI), headless, and ask for its status."""
    if not (Path(sys.executable).parent / "jupyter").exists():
        pytest.skip("jupyter is not installed in this environment")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(
        JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
        JUPYTER_DATA_DIR=str(tmp_path / "data"),
    )
    args = [
        f"--port={port}",
        "--ip=127.0.0.1",
        "--IdentityProvider.token=t0k3n",
        "--ServerApp.port_retries=0",
    ]
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tools" / "lab.py"), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        status = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                url = f"http://127.0.0.1:{port}/api/status?token=t0k3n"
                with urllib.request.urlopen(url, timeout=2) as response:
                    status = response.status
                    break
            except OSError:
                time.sleep(0.5)
        assert proc.poll() is None, "jupyter lab exited: " + (
            proc.stdout.read() if proc.stdout else ""
        )
        assert status == 200
    finally:
        proc.terminate()
        try:
            out, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert "No display found" in out
    assert "Use --allow-root" not in out, "jupyter refused to run as root"
