"""The book's configuration, its generated table of contents, and the GitHub Pages workflow.

The workflow cannot run here, so its YAML is parsed and its structure checked: triggers, the Pages
permissions, a build job that runs `make book` and uploads _build/html, a deploy job after it.
"""

import importlib.util
import re
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"


def load_build_book():
    spec = importlib.util.spec_from_file_location("build_book", ROOT / "tools" / "build_book.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def workflow():
    data = yaml.safe_load(WORKFLOW.read_text())
    # YAML 1.1 reads the bare key `on` as the boolean True.
    if True in data:
        data["on"] = data.pop(True)
    return data


def test_workflow_structure(workflow):
    assert set(workflow) >= {"name", "on", "jobs", "permissions"}
    assert "push" in workflow["on"] and workflow["on"]["push"]["branches"] == ["main"]
    assert workflow["permissions"]["pages"] == "write"
    assert workflow["permissions"]["id-token"] == "write"
    jobs = workflow["jobs"]
    assert set(jobs) == {"build", "deploy"}
    for name, job in jobs.items():
        assert isinstance(job.get("runs-on"), str), name
        steps = job["steps"]
        assert isinstance(steps, list) and steps, name
        for step in steps:
            assert isinstance(step, dict) and (("uses" in step) ^ ("run" in step)), step
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", step["uses"]), step["uses"]


def test_workflow_builds_with_make_book_and_deploys(workflow):
    build, deploy = workflow["jobs"]["build"], workflow["jobs"]["deploy"]
    runs = [s["run"] for s in build["steps"] if "run" in s]
    assert "make book" in runs
    uses = [s["uses"].split("@")[0] for s in build["steps"] if "uses" in s]
    assert uses[0] == "actions/checkout" and "actions/upload-pages-artifact" in uses
    upload = next(s for s in build["steps"] if s.get("uses", "").startswith("actions/upload-pages"))
    assert upload["with"]["path"] == "_build/html"
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"
    assert deploy["steps"][-1]["uses"].startswith("actions/deploy-pages@")


def test_makefile_has_book_and_readme_says_how():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^book: ", makefile, re.M) and "tools/build_book.py" in makefile
    assert "_build/" in (ROOT / ".gitignore").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make book" in readme and "github.io" in readme


def test_book_config_is_offline_and_does_not_execute():
    config = yaml.safe_load((ROOT / "book" / "_config.yml").read_text())
    assert config["execute"]["execute_notebooks"] == "off"
    sphinx = config["sphinx"]["config"]
    assert "://" not in sphinx["mathjax_path"], "MathJax must come from the book, not a CDN"
    assert "?" not in sphinx["mathjax_path"]  # Sphinx refuses a query string on a local asset


def test_toc_and_index_list_every_notebook():
    bb = load_build_book()
    toc = yaml.safe_load(bb.toc())
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    lessons = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    solutions = sorted((ROOT / "notebooks" / "solutions").glob("[0-9][0-9]_*.ipynb"))
    assert lessons
    assert files == [f"notebooks/{p.stem}" for p in lessons] + [
        f"notebooks/solutions/{p.stem}" for p in solutions
    ]
    table = bb.lesson_table()
    for p in lessons:
        assert f"](notebooks/{p.name})" in table
    assert bb.TABLE_MARKER in (ROOT / "book" / "intro.md").read_text()


def test_mathjax_ships_with_the_set_up():
    bb = load_build_book()
    assert (bb.mathjax_dir() / "MathJax.js").is_file()
