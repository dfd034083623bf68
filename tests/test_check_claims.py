"""tools/check_claims.py: it varies the seed and the CPU kernels, and reads the claim cells' verdicts."""

import importlib.util
from pathlib import Path

import nbformat

TOOL = Path(__file__).resolve().parent.parent / "tools" / "check_claims.py"
spec = importlib.util.spec_from_file_location("check_claims", TOOL)
check_claims = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_claims)


def _notebook(tmp_path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    probe = nbformat.v4.new_code_cell(
        "import os\n"
        "offset = int(os.environ.get('AU_SEED_OFFSET', '0'))\n"
        "kernel = os.environ.get('ATEN_CPU_CAPABILITY', 'native')\n"
        "print('seed offset is even:', offset % 2 == 0)\n"
        "print('kernel is not avx2:', kernel != 'avx2')"
    )
    probe.metadata["tags"] = ["claim"]
    stored = nbformat.v4.new_code_cell("print(1 + 1)")
    stored.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="3\n")
    ]  # wrong on purpose
    nb.cells = [probe, stored]
    path = tmp_path / "probe.ipynb"
    nbformat.write(nb, path)
    return path


def test_verdicts_follow_seed_and_emulation(tmp_path):
    path = _notebook(tmp_path)
    verdicts, differing, _ = check_claims.run_once(path, seed=1, emulation="avx2")
    assert verdicts == {"[cell 0] seed offset is even": False, "[cell 0] kernel is not avx2": False}
    assert differing == [0, 1], "the claim cell stores no output and cell 1 stores a wrong one"
    verdicts, _, _ = check_claims.run_once(path, seed=2, emulation="default")
    assert verdicts == {"[cell 0] seed offset is even": True, "[cell 0] kernel is not avx2": True}


def test_exit_code_fails_on_a_false_claim(tmp_path, capsys):
    path = _notebook(tmp_path)
    assert check_claims.main([str(path), "--seeds", "0", "--emulations", "native"]) == 0
    assert check_claims.main([str(path), "--seeds", "1", "--emulations", "native"]) == 1
    out = capsys.readouterr().out
    assert "SOME CLAIMS FAIL" in out and "seed offset is even" in out


def test_verdict_lines_are_parsed():
    match = check_claims.VERDICT.match("attention beats the baseline in every bin: True")
    assert (
        match["label"] == "attention beats the baseline in every bin" and match["verdict"] == "True"
    )
    assert check_claims.VERDICT.match("accuracy 0.93") is None
