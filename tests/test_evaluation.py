"""WER and its named normalizer (used by the Whisper test and the benchmark)."""

from __future__ import annotations

import pytest

from stt_studio.evaluation import (
    NORMALIZER_NAME,
    normalize_text,
    word_edit_distance,
    word_error_rate,
)


@pytest.mark.parametrize(("raw", "normalized"), [
    ("And so, my fellow Americans: ask not — ask!", "and so my fellow americans ask not ask"),
    ("HE WAS NOT AN ILL-DISPOSED YOUNG MAN", "he was not an ill disposed young man"),
    ("  it's   the 42-line\tBible.\n", "it's the 42 line bible"),
    ("uh, um... okay", "uh um okay"),
    ("Über naïve", "über naïve"),
    ("", ""),
    ("?!.", ""),
])
def test_normalize_text(raw, normalized):
    assert normalize_text(raw) == normalized


def test_edit_distance():
    assert word_edit_distance([], []) == 0
    assert word_edit_distance(["a"], []) == 1
    assert word_edit_distance([], ["a", "b"]) == 2
    assert word_edit_distance("a b c".split(), "a x c".split()) == 1  # substitution
    assert word_edit_distance("a b c".split(), "a c".split()) == 1  # deletion
    assert word_edit_distance("a b c".split(), "a b b c".split()) == 1  # insertion
    assert word_edit_distance("a b c d".split(), "b c d a".split()) == 2
    assert word_edit_distance("kitten sat".split(), "sitting sat".split()) == 1  # words, not chars


def test_corpus_wer_weights_by_reference_length():
    result = word_error_rate([("one two three four", "one two three four"),
                              ("five six", "five seven")])
    assert (result.errors, result.reference_words) == (1, 6)
    assert result.wer == pytest.approx(1 / 6)
    assert result.normalizer == NORMALIZER_NAME == "lowercase+strip-punctuation"


def test_wer_normalizes_both_sides():
    assert word_error_rate([("HELLO, WORLD.", "hello world")]).wer == 0.0


def test_wer_can_exceed_one_and_handles_empty_references():
    assert word_error_rate([("a", "b c d")]).wer == 3.0
    assert word_error_rate([]).wer == 0.0
    assert word_error_rate([("", "")]).wer == 0.0
    assert word_error_rate([("", "noise")]).wer == float("inf")
