"""Exercise checkers: call one on your own function; it prints ✅ or ❌ with a hint and returns a bool.

Checkers never raise, so a lesson whose exercises are still unsolved runs cleanly.
"""

from ._harness import Mismatch, run_checks
from .softmax import check_masked_softmax, check_row_softmax

__all__ = ["Mismatch", "run_checks", "check_row_softmax", "check_masked_softmax"]
