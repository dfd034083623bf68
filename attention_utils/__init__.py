"""attention_utils: the small helper package of the "Attention, step by step" series.

Names, call signatures and parameter names follow the d2l book's helpers, so a reader of the book can
swap one for the other (and ``load_state_dict`` works across them). Each piece is built in the open in
the lesson that explains it; later lessons import it from here.

Shapes use ``(batch, num_queries, num_keys)`` for scores and weights. Bad input raises a
``TypeError`` or ``ValueError`` that names the argument.
"""

from . import exercises
from .kernel_regression import (
    KERNELS,
    NWKernelRegression,
    boxcar_kernel,
    epanechnikov_kernel,
    gaussian_kernel,
    make_1d_regression,
    nadaraya_watson,
)
from .masking import causal_mask, masked_softmax, sequence_mask
from .multihead import MultiHeadAttention
from .plotting import show_heatmaps
from .positional import PositionalEncoding, sinusoidal_table
from .scoring import AdditiveAttention, DotProductAttention
from .seeding import on_colab, set_seed, setup_lesson

__version__ = "0.1.0"

__all__ = [
    "exercises",
    "show_heatmaps",
    "masked_softmax",
    "sequence_mask",
    "causal_mask",
    "DotProductAttention",
    "AdditiveAttention",
    "MultiHeadAttention",
    "PositionalEncoding",
    "sinusoidal_table",
    "make_1d_regression",
    "gaussian_kernel",
    "boxcar_kernel",
    "epanechnikov_kernel",
    "KERNELS",
    "nadaraya_watson",
    "NWKernelRegression",
    "set_seed",
    "setup_lesson",
    "on_colab",
]
