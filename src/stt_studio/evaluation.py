"""Word error rate against reference transcripts, with one named normalizer.

References come in several house styles (LibriSpeech upper case without
punctuation, LJ Speech with punctuation, MFA lower case with fillers), so
hypothesis and reference are both normalized the same way before comparing:
lower-case, every character that is not a letter, digit, apostrophe or space
becomes a space, runs of spaces collapse. Nothing is expanded (no number
spelling, no contraction splitting). Report WER together with
:data:`NORMALIZER_NAME` so figures stay comparable.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

NORMALIZER_NAME = "lowercase+strip-punctuation"


def normalize_text(text: str) -> str:
    """Lower-case; keep letters, digits, apostrophes; everything else is a space."""
    kept = [ch if (ch.isalnum() or ch in "' ") else " " for ch in text.lower()]
    return " ".join("".join(kept).split())


def word_edit_distance(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    """Levenshtein distance over words (substitutions, insertions, deletions)."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref_word in enumerate(reference, start=1):
        current = [i] + [0] * len(hypothesis)
        for j, hyp_word in enumerate(hypothesis, start=1):
            current[j] = min(
                previous[j] + 1,  # deletion
                current[j - 1] + 1,  # insertion
                previous[j - 1] + (ref_word != hyp_word),  # substitution or match
            )
        previous = current
    return previous[-1]


@dataclass(frozen=True, slots=True)
class WerResult:
    """Corpus WER: total word edits over total reference words."""

    errors: int
    reference_words: int
    normalizer: str = NORMALIZER_NAME

    @property
    def wer(self) -> float:
        if self.reference_words == 0:
            return 0.0 if self.errors == 0 else float("inf")
        return self.errors / self.reference_words


def word_error_rate(pairs: Iterable[tuple[str, str]]) -> WerResult:
    """Corpus WER over ``(reference, hypothesis)`` pairs, both normalized first."""
    errors = 0
    words = 0
    for reference, hypothesis in pairs:
        ref = normalize_text(reference).split()
        hyp = normalize_text(hypothesis).split()
        errors += word_edit_distance(ref, hyp)
        words += len(ref)
    return WerResult(errors=errors, reference_words=words)
