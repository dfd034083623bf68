"""Install binder/ into a fresh venv as repo2docker would, then import everything the lessons import.

repo2docker itself needs Docker and the network, so this does its two steps by hand: pip-install
binder/requirements.txt, then run binder/postBuild in the repository's root. Slow (minutes): it runs in
`make test-binder` (and CI), and is skipped elsewhere unless RUN_BINDER_TEST=1.
"""

import ast
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager

ROOT = Path(__file__).resolve().parents[2]

slow = pytest.mark.skipif(
    os.environ.get("RUN_BINDER_TEST") != "1",
    reason="the Binder install test takes minutes: run it with `make test-binder`",
)


def lesson_imports() -> list[str]:
    """Every import statement in the notebooks' code cells (lessons and solutions), as source."""
    statements: set[str] = set()
    for path in sorted(ROOT.glob("notebooks/**/*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "code":
                continue
            code = TransformerManager().transform_cell(cell.source)  # %pip -> a plain call
            for node in ast.walk(ast.parse(code)):
                if isinstance(node, ast.Import | ast.ImportFrom) and getattr(node, "level", 0) == 0:
                    statements.add(ast.unparse(node))
    return sorted(statements)


def test_lesson_imports_are_found():
    found = lesson_imports()
    assert "import attention_utils as au" in found and "from d2l import torch as d2l" in found


@slow
def test_binder_files_install_into_a_fresh_venv(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    env = dict(
        os.environ, PATH=f"{venv / 'bin'}:{os.environ['PATH']}", PIP_DISABLE_PIP_VERSION_CHECK="1"
    )
    env.pop("PYTHONPATH", None)
    subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "-r", "binder/requirements.txt"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    subprocess.run(["bash", "binder/postBuild"], cwd=ROOT, env=env, check=True)
    script = "\n".join(lesson_imports()) + (
        "\nimport attention_utils as au\n"
        "assert au.minilm_local_dir().exists(), 'the MiniLM files must be installed'\n"
        "print('imports ok')\n"
    )
    result = subprocess.run(
        ["bash", str(ROOT / "binder" / "start"), str(py), "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "imports ok" in result.stdout
