"""Checker for lesson 05: a multi-head attention module that matches the reference one."""

from __future__ import annotations

import torch

from ._harness import Mismatch, expect_close, expect_finite, expect_shape, run_checks

__all__ = ["check_multihead_attention"]

_NAMES = ("W_q", "W_k", "W_v", "W_o")


def _randn(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _reference(num_hiddens: int, num_heads: int):
    from ..multihead import MultiHeadAttention

    ref = MultiHeadAttention(num_hiddens, num_heads, 0.0)
    x = torch.zeros(1, 1, num_hiddens)
    ref(x, x, x)  # materialize the lazy layers: every projection is (num_hiddens, num_hiddens)
    with torch.no_grad():
        for i, name in enumerate(_NAMES):
            getattr(ref, name).weight.copy_(
                _randn(num_hiddens, num_hiddens, seed=100 + i) / num_hiddens**0.5
            )
    return ref.eval()


def _build(cls_or_fn, num_hiddens: int, num_heads: int):
    """Make the learner's module, warm it up (lazy layers), check its weights and copy ours in."""
    model = cls_or_fn(num_hiddens, num_heads, 0.0)
    if not isinstance(model, torch.nn.Module):
        raise Mismatch(
            f"calling it with (num_hiddens, num_heads, dropout) should give an nn.Module, got {type(model).__name__}"
        )
    x = _randn(2, 4, num_hiddens, seed=7)
    with torch.no_grad():
        model(x, x, x, None)  # lazy layers learn their input sizes here
    d_head = num_hiddens // num_heads
    for name in _NAMES:
        layer = getattr(model, name, None)
        weight = getattr(layer, "weight", None)
        if not isinstance(weight, torch.Tensor):
            raise Mismatch(
                f"the module needs a linear layer named {name} (d2l's parameter names W_q, W_k, W_v, W_o)"
            )
        shape = tuple(weight.shape)
        if shape == (num_hiddens, num_hiddens):
            continue
        if name == "W_o" and shape == (num_hiddens, d_head):
            raise Mismatch(
                f"W_o.weight has shape {shape}: W_o reads one head's {d_head} features, so the heads were "
                f"summed (or averaged). Concatenate them instead: (B, n, h, d_head) -> (B, n, h * d_head) = "
                f"(B, n, {num_hiddens}), then W_o is ({num_hiddens}, {num_hiddens})"
            )
        if name != "W_o" and d_head in shape:
            raise Mismatch(
                f"{name}.weight has shape {shape}: it projects one head's slice of {d_head} features, so "
                "the heads were split before projecting. Project the whole feature vector first "
                f"(a ({num_hiddens}, {num_hiddens}) weight), then split the result into heads"
            )
        raise Mismatch(
            f"{name}.weight should have shape ({num_hiddens}, {num_hiddens}), got {shape}"
        )
    ref = _reference(num_hiddens, num_heads)
    with torch.no_grad():
        for name in _NAMES:
            layer, ref_layer = getattr(model, name), getattr(ref, name)
            layer.weight.copy_(ref_layer.weight)
            if getattr(layer, "bias", None) is not None:
                layer.bias.zero_()
    return model.eval(), ref


def _call(model, q, k, v, lens=None) -> torch.Tensor:
    with torch.no_grad():
        return model(q, k, v, lens)


def check_multihead_attention(cls_or_fn, verbose: bool = True) -> bool:
    """Check a multi-head attention module against the package's ``MultiHeadAttention``.

    ``cls_or_fn`` is a class (or any function) called as ``cls_or_fn(num_hiddens, num_heads, dropout)``
    that returns an ``nn.Module`` with linear layers ``W_q``, ``W_k``, ``W_v``, ``W_o`` (d2l's names)
    and ``forward(queries, keys, values, valid_lens)``: queries ``(B, Q, num_hiddens)``, keys and values
    ``(B, K, num_hiddens)``, valid_lens ``None`` or ``(B,)`` -> ``(B, Q, num_hiddens)``.

    The checker copies fixed weights into the module (biases set to 0) and tests, in this order: the
    weight shapes (split before projecting? heads summed?), the output shape, that queries do not leak into
    each other (a softmax over the wrong axis), that every query sees every key (a forgotten transpose attends
    over heads; a reshape straight to ``(B, h, n, d_head)`` mixes heads and positions), the values, the key padding mask,
    queries and keys of different lengths, and another number of heads.
    """
    B, n, D, H = 2, 5, 8, 2
    state: dict = {}

    def builds():
        state["model"], state["ref"] = _build(cls_or_fn, D, H)

    def output_shape():
        x = _randn(B, n, D, seed=1)
        out = expect_shape(
            _call(state["model"], x, x, x), (B, n, D), "the output for (B, n, num_hiddens) inputs"
        )
        expect_finite(out)

    def sees_every_key():
        x = _randn(B, n, D, seed=2)
        before = _call(state["model"], x, x, x)
        seen = []
        for j in range(
            n
        ):  # change one key/value at a time: the output at query 0 must react to each
            kv = x.clone()
            kv[:, j] += 3.0 * _randn(B, D, seed=30 + j)
            seen.append(
                not torch.allclose(before[:, 0], _call(state["model"], x, kv, kv)[:, 0], atol=1e-6)
            )
        if not any(seen[1:]):
            raise Mismatch(
                "the output at query 0 did not change when any other key/value changed, so queries do "
                "not look at other positions: your softmax runs over the heads axis. After "
                ".view(B, n, h, d_head) add .transpose(1, 2) to get (B, h, n, d_head)"
            )
        if not all(seen):
            blind = [j for j, s in enumerate(seen) if not s]
            raise Mismatch(
                f"the output at query 0 ignores keys {blind}, so heads and positions got mixed: "
                ".reshape(B, h, n, d_head) is not the same as .view(B, n, h, d_head).transpose(1, 2) "
                "(and merging the heads back needs the inverse transpose before the reshape)"
            )

    def queries_independent():
        q = _randn(B, n, D, seed=4)
        kv = _randn(B, n, D, seed=5)
        q2 = q.clone()
        q2[:, -1] += 3.0 * _randn(B, D, seed=6)  # change only the last query
        before = _call(state["model"], q, kv, kv)
        after = _call(state["model"], q2, kv, kv)
        if not torch.allclose(before[:, :-1], after[:, :-1], atol=1e-5):
            raise Mismatch(
                "changing only the last query changed the outputs of other queries, so queries got "
                "mixed: is the softmax over the keys (dim=-1)? And .reshape(B, h, n, d_head) is not the "
                "same as .view(B, n, h, d_head).transpose(1, 2)"
            )

    def values():
        q, kv = _randn(B, n, D, seed=8), _randn(B, n, D, seed=9)
        got = _call(state["model"], q, kv, kv)
        want = _call(state["ref"], q, kv, kv)
        try:
            expect_close(got, want, "the output differs from the reference")
        except Mismatch:
            for scale, what in ((D**0.5, "sqrt(num_hiddens)"), (1.0, "nothing")):
                if _matches_with_scale(state["ref"], q, kv, H, scale, got):
                    raise Mismatch(
                        f"the scores are divided by {what}; each head must divide by sqrt(d_head) = "
                        f"sqrt(num_hiddens / num_heads) = {(D // H) ** 0.5:.3f}"
                    ) from None
            raise
        attn = getattr(state["model"], "attention_weights", None)
        if isinstance(attn, torch.Tensor):
            expect_shape(attn, (B, H, n, n), "self.attention_weights (batch, heads, queries, keys)")
            expect_close(
                attn,
                state["ref"].attention_weights,
                "self.attention_weights differ from the reference",
            )

    def key_padding():
        q, kv = _randn(B, n, D, seed=10), _randn(B, n, D, seed=11)
        lens = torch.tensor([2, 4])
        got = _call(state["model"], q, kv, kv, lens.clone())
        want = _call(state["ref"], q, kv, kv, lens)
        try:
            expect_close(got, want, "with valid_lens the output differs from the reference")
        except Mismatch:
            if torch.allclose(got, _call(state["ref"], q, kv, kv), atol=1e-5):
                raise Mismatch(
                    "with valid_lens=[2, 4] the output equals the unmasked output: forward ignores "
                    "valid_lens. Mask the scores of keys at positions >= valid_lens[b] before the "
                    "softmax (au.masked_softmax does it), in every head"
                ) from None
            cycled = lens.repeat(H).view(B, H)  # (B, h): what .repeat gives row b * h + head
            if torch.allclose(
                got, _reference_with_head_lens(state["ref"], q, kv, cycled), atol=1e-5
            ):
                raise Mismatch(
                    "with valid_lens the heads of sequence b use another sequence's length: with the "
                    "heads folded into the batch as (B * h, ...), row b * h + head belongs to sequence "
                    "b, so repeat each length h times in a row (repeat_interleave), not the whole "
                    "list (repeat)"
                ) from None
            raise Mismatch(
                "with valid_lens the output differs: every head of sequence b must ignore the keys at "
                "positions >= valid_lens[b], and only those"
            ) from None

    def cross_lengths():
        q, kv = _randn(B, 3, D, seed=12), _randn(B, 6, D, seed=13)
        got = expect_shape(
            _call(state["model"], q, kv, kv), (B, 3, D), "the output for 3 queries and 6 keys"
        )
        expect_close(
            got, _call(state["ref"], q, kv, kv), "with 3 queries and 6 keys the output differs"
        )

    def other_heads():
        model, ref = _build(cls_or_fn, 12, 3)
        q, kv = _randn(B, n, 12, seed=14), _randn(B, n, 12, seed=15)
        expect_close(
            _call(model, q, kv, kv),
            _call(ref, q, kv, kv),
            "with num_hiddens=12, num_heads=3 the output differs: is a head count or size hard-coded?",
        )

    cases = [
        ("weights", builds),
        ("output shape", output_shape),
        ("queries stay separate", queries_independent),
        ("every query sees every key", sees_every_key),
        ("values", values),
        ("key padding mask", key_padding),
        ("queries and keys of different lengths", cross_lengths),
        ("3 heads", other_heads),
    ]
    with torch.random.fork_rng(
        devices=[]
    ):  # building modules draws random weights: keep the learner's stream
        return run_checks("check_multihead_attention", cases, verbose=verbose)


def _matches_with_scale(ref, queries, kv, num_heads: int, scale: float, got: torch.Tensor) -> bool:
    """Does ``got`` equal the reference computed with scores divided by ``scale``?"""
    B, n, D = queries.shape
    with torch.no_grad():
        q = ref.W_q(queries).view(B, n, num_heads, -1).transpose(1, 2)  # (B, h, n, d_head)
        k = ref.W_k(kv).view(B, kv.shape[1], num_heads, -1).transpose(1, 2)  # (B, h, K, d_head)
        v = ref.W_v(kv).view(B, kv.shape[1], num_heads, -1).transpose(1, 2)  # (B, h, K, d_head)
        w = torch.softmax(q @ k.transpose(-2, -1) / scale, dim=-1)  # (B, h, n, K)
        out = (w @ v).transpose(1, 2).reshape(B, n, D)  # (B, n, h, d_head) -> (B, n, D)
        return torch.allclose(ref.W_o(out), got, atol=1e-5)


def _reference_with_head_lens(ref, queries, kv, head_lens: torch.Tensor) -> torch.Tensor:
    """The reference output when head ``i`` of sequence ``b`` keeps keys ``< head_lens[b, i]``.

    queries ``(B, n, D)``, kv ``(B, K, D)``, head_lens ``(B, h)`` -> ``(B, n, D)``.
    """
    B, n, D = queries.shape
    K, h = kv.shape[1], head_lens.shape[1]
    with torch.no_grad():
        q = ref.W_q(queries).view(B, n, h, -1).transpose(1, 2)  # (B, h, n, d_head)
        k = ref.W_k(kv).view(B, K, h, -1).transpose(1, 2)  # (B, h, K, d_head)
        v = ref.W_v(kv).view(B, K, h, -1).transpose(1, 2)  # (B, h, K, d_head)
        scores = q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5  # (B, h, n, K)
        keep = torch.arange(K)[None, None, None, :] < head_lens[:, :, None, None]  # (B, h, 1, K)
        w = torch.softmax(scores.masked_fill(~keep, float("-inf")), dim=-1)  # (B, h, n, K)
        out = (w @ v).transpose(1, 2).reshape(B, n, D)  # (B, n, h, d_head) -> (B, n, D)
        return ref.W_o(out)
