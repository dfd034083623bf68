"""Start JupyterLab on notebooks/ the way `make lab` should, on any machine.

- As root (Docker images, cloud VMs, CI boxes) Jupyter refuses to start without ``--allow-root``: add it.
- On a headless Linux machine (no ``DISPLAY`` or ``WAYLAND_DISPLAY``) there is no browser to open: add
  ``--no-browser``; Jupyter still prints the URL with its token to open from elsewhere.
- Otherwise (a normal user on a desktop, or macOS/Windows) it starts as usual and opens a browser.

Usage: python tools/lab.py [extra jupyter-lab arguments ...]
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def lab_args(uid: int, env: Mapping[str, str], platform: str) -> list[str]:
    """The extra arguments `jupyter lab` needs for this user and machine."""
    args = []
    if uid == 0:
        args.append("--allow-root")
    headless = platform.startswith("linux") and not (
        env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")
    )
    if headless:
        args.append("--no-browser")
    return args


def main(extra: list[str]) -> None:
    uid = os.getuid() if hasattr(os, "getuid") else 1000
    args = lab_args(uid, os.environ, sys.platform)
    if "--no-browser" in args:
        print("No display found: not opening a browser. Open the URL printed below.", flush=True)
    jupyter = shutil.which("jupyter", path=str(Path(sys.executable).parent)) or "jupyter"
    command = [jupyter, "lab", str(NOTEBOOKS), *args, *extra]
    os.execv(jupyter, command)


if __name__ == "__main__":
    main(sys.argv[1:])
