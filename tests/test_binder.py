"""binder/ (repo2docker, JupyterHub) stays in step with pyproject.toml and the Makefile."""

import os
import re
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"


def binder_requirements() -> set[str]:
    lines = (BINDER / "requirements.txt").read_text().splitlines()
    return {ln.replace(" ", "") for ln in lines if ln.strip() and not ln.startswith("#")}


def test_binder_requirements_are_pyproject_core_plus_lessons():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    want = {
        r.replace(" ", "") for r in meta["dependencies"] + meta["optional-dependencies"]["lessons"]
    }
    assert binder_requirements() == want


def test_postbuild_installs_the_makefiles_no_deps_packages_and_the_package():
    makefile_line = next(
        ln for ln in (ROOT / "Makefile").read_text().splitlines() if ln.startswith("NO_DEPS")
    )
    no_deps = makefile_line.split(":=")[1].split()
    post = (BINDER / "postBuild").read_text()
    assert re.search(r"pip install [^\n]*--no-deps " + re.escape(" ".join(no_deps)), post)
    assert re.search(r"pip install [^\n]*--no-deps -e \.", post)


def test_binder_scripts_are_executable_and_runtime_is_supported():
    for name in ("postBuild", "start"):
        assert os.access(BINDER / name, os.X_OK), f"binder/{name} must be executable"
    assert "HF_HUB_OFFLINE=1" in (BINDER / "start").read_text()
    version = (BINDER / "runtime.txt").read_text().strip()
    assert re.fullmatch(r"python-3\.(1[0-3])", version), version
