"""The shared argument checks, seeding, the scoring modules' input checks and the package import."""

import subprocess
import sys

import pytest
import torch

import attention_utils as au


def test_set_seed_repeats_every_generator():
    import random

    import numpy as np

    g1 = au.set_seed(3)
    a = (
        random.random(),
        np.random.rand(),
        torch.rand(1).item(),
        torch.rand(1, generator=g1).item(),
    )
    g2 = au.set_seed(3)
    b = (
        random.random(),
        np.random.rand(),
        torch.rand(1).item(),
        torch.rand(1, generator=g2).item(),
    )
    assert a == b
    with pytest.raises(TypeError, match="seed must be an int"):
        au.set_seed(1.5)


def test_setup_lesson_fixes_threads():
    before = torch.get_num_threads()
    try:
        assert au.setup_lesson(seed=5, threads=1) is None, "the setup cell must print nothing"
        assert torch.get_num_threads() == 1
        first = torch.rand(3)
        au.setup_lesson(seed=5, threads=1)
        assert torch.equal(torch.rand(3), first)
    finally:
        torch.set_num_threads(before)
        torch.set_printoptions(profile="default")


def test_import_is_light():
    code = (
        "import sys, time; import torch; t = time.perf_counter(); import attention_utils;"
        "print(time.perf_counter() - t);"
        "print('d2l' in sys.modules, 'matplotlib.pyplot' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert float(out[0]) < 1.0, f"importing attention_utils took {out[0]} s beyond torch"
    assert out[1:] == ["False", "False"], (
        "attention_utils must not import d2l or pyplot at import time"
    )


@pytest.mark.parametrize(
    ("args", "exc", "words"),
    [
        (
            (torch.randn(2, 3, 4), torch.randn(2, 5, 6), torch.randn(2, 5, 2)),
            ValueError,
            "query_size=4 and key_size=6",
        ),
        (
            (torch.randn(2, 3, 4), torch.randn(2, 5, 4), torch.randn(2, 6, 2)),
            ValueError,
            "5 keys and 6 values",
        ),
        (
            (torch.randn(2, 3, 4), torch.randn(1, 5, 4), torch.randn(1, 5, 2)),
            ValueError,
            "same batch size",
        ),
        (
            (torch.randn(3, 4), torch.randn(5, 4), torch.randn(5, 2)),
            ValueError,
            "queries must be 3-D",
        ),
        (
            (torch.randn(2, 3, 4), torch.ones(2, 5, 4, dtype=torch.long), torch.randn(2, 5, 2)),
            TypeError,
            "keys must hold floating-point",
        ),
    ],
)
def test_dot_product_attention_rejects_bad_shapes(args, exc, words):
    with pytest.raises(exc) as info:
        au.DotProductAttention(0.0)(*args)
    assert words in str(info.value)


def test_dropout_must_be_a_probability():
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\)"):
        au.DotProductAttention(1.5)


def test_seed_offset_env_shifts_every_seed(monkeypatch):
    monkeypatch.setenv("AU_SEED_OFFSET", "2")
    shifted = au.set_seed(1)
    a = torch.rand(3)
    monkeypatch.delenv("AU_SEED_OFFSET")
    plain = au.set_seed(3)
    b = torch.rand(3)
    assert torch.equal(a, b), "seed 1 with offset 2 must equal seed 3"
    assert torch.equal(torch.rand(2, generator=shifted), torch.rand(2, generator=plain))


def test_seed_offset_env_must_be_an_integer(monkeypatch):
    monkeypatch.setenv("AU_SEED_OFFSET", "two")
    with pytest.raises(ValueError, match="AU_SEED_OFFSET must be an integer"):
        au.set_seed(0)
