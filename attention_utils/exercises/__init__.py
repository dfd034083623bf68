"""Exercise checkers: call one on your own function; it prints ✅ or ❌ with a hint and returns a bool.

Checkers never raise, so a lesson whose exercises are still unsolved runs cleanly.
"""

from ._harness import Mismatch, run_checks
from .decoder import check_repeat_kv
from .efficient import check_online_softmax, check_window_mask
from .kernels import check_leave_one_out, check_nadaraya_watson
from .multihead import check_multihead_attention
from .positional import check_sinusoidal_encoding
from .scoring import check_additive_score, check_bahdanau_context, check_scaled_dot_product
from .softmax import check_masked_softmax, check_row_softmax
from .transformer import check_encoder_block, check_pre_norm_block

__all__ = [
    "Mismatch",
    "run_checks",
    "check_row_softmax",
    "check_masked_softmax",
    "check_scaled_dot_product",
    "check_additive_score",
    "check_bahdanau_context",
    "check_multihead_attention",
    "check_sinusoidal_encoding",
    "check_nadaraya_watson",
    "check_leave_one_out",
    "check_online_softmax",
    "check_window_mask",
    "check_encoder_block",
    "check_pre_norm_block",
    "check_repeat_kv",
]
