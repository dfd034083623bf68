"""Make ``from d2l import torch as d2l`` work on Colab, Binder and other ready-made runtimes.

Lessons that compare with the d2l book import ``d2l.torch``. d2l 1.0.3 pins old versions of NumPy,
pandas and others, so it is installed with ``--no-deps`` (as on Colab), and its imports then have
to be there already: torchvision, pandas, requests, SciPy, Pillow and matplotlib-inline. Colab has
them today; a Colab-like or Binder runtime may lack one. :func:`ensure_d2l` installs exactly what
is missing and nothing else, so on a machine set up with ``make setup`` it does nothing.

The importer and the installer are arguments, so the logic is tested without installing anything.
"""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
from collections.abc import Callable, Sequence

__all__ = ["D2L_VERSION", "D2L_IMPORTS", "missing_modules", "torchvision_requirement", "ensure_d2l"]

#: The d2l release the lessons are checked against.
D2L_VERSION = "1.0.3"

#: What ``d2l.torch`` imports at the top, beyond torch, NumPy, matplotlib and IPython:
#: import name -> pip requirement.
D2L_IMPORTS: dict[str, str] = {
    "torchvision": "torchvision",
    "pandas": "pandas",
    "requests": "requests",
    "scipy": "scipy",
    "PIL": "pillow",
    "matplotlib_inline": "matplotlib-inline",
}


def _is_present(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def missing_modules(
    names: Sequence[str], *, is_present: Callable[[str], bool] = _is_present
) -> list[str]:
    """The import names in ``names`` that cannot be imported (found by ``is_present``), in order."""
    return [name for name in names if not is_present(name)]


def torchvision_requirement(torch_version: str) -> str:
    """The torchvision pin that matches a torch version, so pip does not replace torch.

    For torch 2.x.y the matching torchvision is 0.(x + 15).y (torch 2.14.1 -> torchvision 0.29.1,
    2.5.1 -> 0.20.1), as in PyTorch's compatibility table. Another major version gets plain
    ``torchvision``. A local tag (``+cu130``) is ignored.
    """
    if not isinstance(torch_version, str):
        raise TypeError(f"torch_version must be a str, got {type(torch_version).__name__}")
    parts = torch_version.split("+")[0].split(".")
    if len(parts) >= 3 and parts[0] == "2" and parts[1].isdigit() and parts[2].isdigit():
        return f"torchvision==0.{int(parts[1]) + 15}.{parts[2]}"
    return "torchvision"


def _pip_install(args: list[str]) -> None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", *args], check=True)


def ensure_d2l(
    *,
    is_present: Callable[[str], bool] = _is_present,
    install: Callable[[list[str]], None] = _pip_install,
    torch_version: str | None = None,
) -> list[list[str]]:
    """Install d2l (``--no-deps``) and the modules ``d2l.torch`` imports, where they are missing.

    Nothing is installed when everything is present (a ``make setup`` environment, or Colab today).
    Otherwise ``install(args)`` is called once per pip command: ``["--no-deps", "d2l==1.0.3"]`` if d2l
    is missing, then one call with the missing requirements (torchvision pinned to the installed
    torch). Needs a network only when something is missing.

    Args:
        is_present: ``is_present(import_name) -> bool``; default: ``importlib.util.find_spec``.
        install: ``install(pip_args)``; default: ``python -m pip install -q ...`` in this kernel's Python.
        torch_version: for the torchvision pin; default: ``torch.__version__``.

    Returns:
        The pip argument lists that were installed (empty when nothing was missing).
    """
    if not callable(is_present):
        raise TypeError(f"is_present must be callable, got {type(is_present).__name__}")
    if not callable(install):
        raise TypeError(f"install must be callable, got {type(install).__name__}")
    commands: list[list[str]] = []
    if not is_present("d2l"):
        commands.append(["--no-deps", f"d2l=={D2L_VERSION}"])
    missing = missing_modules(list(D2L_IMPORTS), is_present=is_present)
    if missing:
        if torch_version is None:
            import torch

            torch_version = torch.__version__
        reqs = [
            torchvision_requirement(torch_version) if name == "torchvision" else D2L_IMPORTS[name]
            for name in missing
        ]
        commands.append(reqs)
    for args in commands:
        print("installing for d2l:", " ".join(args))
        install(list(args))
    if commands:
        importlib.invalidate_caches()  # so the new packages are found by this kernel's imports
    return commands
