"""`make student`: lessons without outputs, solutions never copied, exercises unsolved."""

import importlib.util
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("student", ROOT / "tools" / "student_copies.py")
student = importlib.util.module_from_spec(spec)
spec.loader.exec_module(student)


def test_student_copies_have_no_outputs_and_no_solutions(tmp_path):
    written = student.write_student_copies(tmp_path)
    lessons = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert [p.name for p in written] == lessons and len(lessons) >= 8
    assert not any("solution" in p.name for p in tmp_path.iterdir())
    for path in written:
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(c.outputs == [] and c.execution_count is None for c in code), path.name
        assert any("NotImplementedError" in c.source for c in code), (
            f"{path.name}: exercise stubs stay"
        )
        original = nbformat.read(ROOT / "notebooks" / path.name, as_version=4)
        assert [c.source for c in nb.cells] == [c.source for c in original.cells]


def test_student_folder_is_git_ignored():
    assert "/student/" in (ROOT / ".gitignore").read_text().splitlines()
