"""pyproject.toml, environment.yml, the Makefile and the README agree on what gets installed."""

import re
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")
yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[1]


def pyproject_requirements() -> set[str]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(meta["dependencies"])
    for extra in ("lessons", "dev"):
        reqs += meta["optional-dependencies"][extra]
    return {r.replace(" ", "") for r in reqs}


def environment_requirements() -> set[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    return {r.replace(" ", "") for r in pip if not r.startswith("-e")}


def test_environment_yml_names_the_same_packages_as_pyproject():
    assert environment_requirements() == pyproject_requirements()


def no_deps_in_makefile() -> list[str]:
    line = next(
        ln for ln in (ROOT / "Makefile").read_text().splitlines() if ln.startswith("NO_DEPS")
    )
    return line.split(":=")[1].split()


def test_no_deps_packages_are_the_same_everywhere():
    want = "pip install --no-deps " + " ".join(no_deps_in_makefile())
    assert want in (ROOT / "environment.yml").read_text(), (
        "environment.yml's comment must give the same --no-deps line"
    )
    assert want in (ROOT / "README.md").read_text(), "README must give the same --no-deps line"
    assert any(p.startswith("d2l==") for p in no_deps_in_makefile())


def test_readme_gives_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert re.search(r"^make lab\b", readme, re.M) and re.search(r"^make test\b", readme, re.M)


def test_ci_runs_make_test():
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    for target in ("make test", "make test-portable", "make test-binder", "make test-ipywidgets7"):
        assert target in lines, f".ci/run must run `{target}`"
