"""attention_utils: the small helper package of the "Attention, step by step" series.

Names, call signatures and parameter names follow the d2l book's helpers, so a reader of the book can
swap one for the other (and ``load_state_dict`` works across them). Each piece is built in the open in
the lesson that explains it; later lessons import it from here.

Shapes use ``(batch, num_queries, num_keys)`` for scores and weights. Bad input raises a
``TypeError`` or ``ValueError`` that names the argument.
"""

from . import dates, efficient, exercises, seq2seq
from .decoder import (
    DecoderAttention,
    DecoderBlock,
    DecoderLM,
    KVCache,
    attention_from_gpt2,
    attention_from_llama,
    kv_cache_bytes,
    repeat_kv,
)
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
from .positional import LearnedPositionalEmbedding, PositionalEncoding, sinusoidal_table
from .pretrained import (
    MINILM_ID,
    MINILM_REVISION,
    MiniLMUnavailableError,
    attention_from_bert,
    bert_attention_names,
    bert_block_names,
    copy_weights,
    encoder_blocks_from_bert,
    load_minilm,
    minilm_local_dir,
)
from .relative import (
    RelativePositionBias,
    RotaryEmbedding,
    alibi_bias,
    alibi_slopes,
    apply_rotary,
    relative_offsets,
    rotary_angles,
    rotary_permutation,
    rotate_half,
)
from .scoring import AdditiveAttention, BilinearAttention, DotProductAttention
from .seeding import on_colab, set_seed, setup_lesson
from .tasks import TASKS, TaskSplit, make_sequence_task, sequence_accuracy, train_tagger
from .transformer import (
    AddNorm,
    PositionWiseFFN,
    SequenceTagger,
    TransformerEncoder,
    TransformerEncoderBlock,
)

__version__ = "0.1.0"

__all__ = [
    "exercises",
    "efficient",
    "show_heatmaps",
    "masked_softmax",
    "sequence_mask",
    "causal_mask",
    "DotProductAttention",
    "AdditiveAttention",
    "BilinearAttention",
    "dates",
    "seq2seq",
    "MultiHeadAttention",
    "PositionalEncoding",
    "sinusoidal_table",
    "LearnedPositionalEmbedding",
    "rotary_angles",
    "apply_rotary",
    "rotate_half",
    "rotary_permutation",
    "RotaryEmbedding",
    "alibi_slopes",
    "alibi_bias",
    "relative_offsets",
    "RelativePositionBias",
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
    "TASKS",
    "TaskSplit",
    "make_sequence_task",
    "sequence_accuracy",
    "train_tagger",
    "PositionWiseFFN",
    "AddNorm",
    "TransformerEncoderBlock",
    "TransformerEncoder",
    "SequenceTagger",
    "MINILM_ID",
    "MINILM_REVISION",
    "MiniLMUnavailableError",
    "minilm_local_dir",
    "load_minilm",
    "bert_attention_names",
    "bert_block_names",
    "copy_weights",
    "attention_from_bert",
    "encoder_blocks_from_bert",
    "DecoderAttention",
    "DecoderBlock",
    "DecoderLM",
    "KVCache",
    "repeat_kv",
    "kv_cache_bytes",
    "attention_from_gpt2",
    "attention_from_llama",
]
