"""The lesson-08 checkers accept correct answers and reject the usual mistakes with the right hint."""

import pytest
import torch

from attention_utils.exercises import check_online_softmax, check_window_mask

# --- online softmax: the reference answer and typical wrong ones -------------------------------


def online_softmax(scores, block_size):
    m = torch.full(scores.shape[:-1] + (1,), float("-inf"))  # (Q, 1) running max
    ell = torch.zeros(scores.shape[:-1] + (1,))  # (Q, 1) running sum
    for start in range(0, scores.shape[-1], block_size):
        s = scores[..., start : start + block_size]  # (Q, b)
        m_new = torch.maximum(m, s.amax(-1, keepdim=True))
        shift = torch.where(torch.isfinite(m_new), m_new, torch.zeros_like(m_new))
        ell = ell * torch.exp(m - shift) + torch.exp(s - shift).sum(-1, keepdim=True)
        m = m_new
    shift = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
    return torch.where(
        ell > 0, torch.exp(scores - shift) / ell.clamp_min(1e-30), torch.zeros_like(scores)
    )


def no_rescale(scores, block_size):
    m = torch.full(scores.shape[:-1] + (1,), float("-inf"))
    ell = torch.zeros(scores.shape[:-1] + (1,))
    for start in range(0, scores.shape[-1], block_size):
        s = scores[..., start : start + block_size]
        m = torch.maximum(m, s.amax(-1, keepdim=True))
        ell = ell + torch.exp(s - m).sum(-1, keepdim=True)  # forgets exp(m_old - m_new)
    return torch.exp(scores - m) / ell


def drops_last_block(scores, block_size):
    n = scores.shape[-1]
    out = torch.zeros_like(scores)
    full = (n // block_size) * block_size  # only whole blocks
    out[..., :full] = online_softmax(scores[..., :full], block_size)
    return out


def no_max(scores, block_size):
    ell = torch.zeros(scores.shape[:-1] + (1,))
    for start in range(0, scores.shape[-1], block_size):
        ell = ell + torch.exp(scores[..., start : start + block_size]).sum(-1, keepdim=True)
    return torch.exp(scores) / ell


def nan_on_masked_block(scores, block_size):
    m = torch.full(scores.shape[:-1] + (1,), float("-inf"))
    ell = torch.zeros(scores.shape[:-1] + (1,))
    for start in range(0, scores.shape[-1], block_size):
        s = scores[..., start : start + block_size]
        m_new = torch.maximum(m, s.amax(-1, keepdim=True))
        ell = ell * torch.exp(m - m_new) + torch.exp(s - m_new).sum(
            -1, keepdim=True
        )  # -inf - -inf = NaN
        m = m_new
    return torch.exp(scores - m) / ell


def in_place(scores, block_size):
    scores -= scores.amax(-1, keepdim=True)
    return online_softmax(scores, block_size)


def blocks_then_wrong_axis(scores, block_size):
    """Looks at the blocks, then takes the softmax along the wrong axis."""
    _ = [scores[:, start : start + block_size] for start in range(0, scores.shape[-1], block_size)]
    return torch.softmax(scores, dim=0)


def test_plain_softmax_gets_the_block_hint_not_the_nan_hint(capsys):
    assert not check_online_softmax(lambda s, b: torch.softmax(s, dim=-1))
    out = capsys.readouterr().out
    assert "visits blocks: no step of your function looked" in out
    assert "NaN" not in out


def stub(scores, block_size):
    raise NotImplementedError


def test_online_softmax_accepts_the_reference(capsys):
    assert check_online_softmax(online_softmax)
    assert "✅ check_online_softmax: all 7 checks passed" in capsys.readouterr().out


def split_blocks(scores, block_size):
    """Another correct answer: blocks from torch.split, the stats in Python lists."""
    blocks = scores.split(block_size, dim=-1)  # tuple of (Q, b)
    m = torch.stack([b.amax(-1) for b in blocks], -1).amax(-1, keepdim=True)  # (Q, 1)
    shift = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
    ell = sum(torch.exp(b - shift).sum(-1, keepdim=True) for b in blocks)  # (Q, 1)
    return torch.where(ell > 0, torch.exp(scores - shift) / ell.clamp_min(1e-30), 0.0)


def test_online_softmax_accepts_another_blocked_answer(capsys):
    assert check_online_softmax(split_blocks)
    assert "✅" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (no_rescale, "rescale the running sum"),
        (drops_last_block, "the last key was dropped"),
        (no_max, "subtract the running max"),
        (nan_on_masked_block, "NaN for a block of -inf scores"),
        (in_place, "changed its input in place"),
        (stub, "not implemented yet"),
        (blocks_then_wrong_axis, "plain softmax over the last axis"),
        (lambda s, b: torch.softmax(s, dim=0), "no step of your function looked"),
        (lambda s, b: torch.softmax(s, dim=-1).nan_to_num(), "no step of your function looked"),
        # plain softmax gives NaN on the all-masked row: the block hint must come first (issue 9)
        (lambda s, b: torch.softmax(s, dim=-1), "no step of your function looked"),
    ],
)
def test_online_softmax_rejects_wrong_answers(wrong, hint, capsys):
    assert not check_online_softmax(wrong)
    out = capsys.readouterr().out
    assert out.startswith("❌ check_online_softmax")
    assert hint in out


# --- sliding-window mask -----------------------------------------------------------------------


def window_mask(n, window, causal):
    i, j = torch.arange(n)[:, None], torch.arange(n)[None, :]
    return ((i - j >= 0) & (i - j <= window)) if causal else ((i - j).abs() <= window)


def test_window_mask_accepts_the_reference(capsys):
    assert check_window_mask(window_mask)
    assert "✅ check_window_mask: all 4 checks passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda n, w, c: window_mask(n, w, c).float(), "boolean tensor"),
        (lambda n, w, c: window_mask(n, w - 1, c) if not c else window_mask(n, w, c), "off by one"),
        (lambda n, w, c: window_mask(n, w, c).T, "looks into the future"),
        (lambda n, w, c: window_mask(n, w, False), "causal: query i should see keys"),
        (lambda n, w, c: window_mask(n, max(w, 1), c), "window = 0 should keep only the diagonal"),
        (lambda n, w, c: ~window_mask(n, w, c), "your mask is inverted"),
        (lambda n, w, c: (~window_mask(n, w, c)).float(), "your mask is inverted"),
        (
            lambda n, w, c: ~window_mask(n, w, c) if c else window_mask(n, w, c),
            "your mask is inverted",
        ),
    ],
)
def test_window_mask_rejects_wrong_answers(wrong, hint, capsys):
    assert not check_window_mask(wrong)
    out = capsys.readouterr().out
    assert out.startswith("❌ check_window_mask")
    assert hint in out


def test_inverted_window_mask_names_the_convention(capsys):
    assert not check_window_mask(lambda n, w, c: ~window_mask(n, w, c))
    out = capsys.readouterr().out
    assert "True means 'query i may attend to key j'" in out
    assert "scaled_dot_product_attention" in out
