"""LocalAgreement-2 over scripted hypotheses: words settle when two decodes agree, never back."""

from __future__ import annotations

from stt_studio.domain import Word
from stt_studio.live.agreement import Agreement, joined, norm, unsettled


def hyp(text: str, start_s: float = 0.0, step_s: float = 0.5) -> list[Word]:
    return [Word(start_s + i * step_s, start_s + i * step_s + 0.4, w)
            for i, w in enumerate(text.split())]


def test_words_settle_only_when_two_decodes_agree():
    a = Agreement()
    assert a.offer(hyp("the quick")) == []  # nothing to agree with yet
    assert [w.text for w in a.offer(hyp("the quick brown"))] == ["the", "quick"]
    assert [w.text for w in a.pending()] == ["brown"]
    # the decoder changes its mind on the unsettled word: nothing settles
    assert a.offer(hyp("the quick frown fox")) == []
    assert [w.text for w in a.offer(hyp("the quick frown fox jumps"))] == ["frown", "fox"]


def test_settled_words_are_never_taken_back():
    a = Agreement()
    a.offer(hyp("one two three"))
    a.offer(hyp("one two three four"))
    # a later decode that rewrites the settled words: they stay as sent; only what
    # follows them is compared ("four" agrees with the decode before)
    assert [w.text for w in a.offer(hyp("won too three four five"))] == ["four"]
    assert [w.text for w in a.settled] == ["one", "two", "three", "four"]
    rest = a.finish(hyp("one two three four five six"))
    assert [w.text for w in rest] == ["five", "six"]
    assert joined(a.settled, first=True) == "one two three four five six"


def test_case_and_punctuation_do_not_count():
    assert norm("Hello,") == norm("hello") == "hello"
    a = Agreement()
    a.offer(hyp("Hello, world"))
    assert [w.text for w in a.offer(hyp("hello world again"))] == ["hello", "world"]


def test_repeated_tail_is_not_settled_twice():
    settled = hyp("and so on")
    # the new decode repeats "so on" with times a little after the settled ones
    again = [Word(1.05, 1.4, "so"), Word(1.6, 1.9, "on"), Word(2.0, 2.3, "then")]
    assert [w.text for w in unsettled(again, settled)] == ["then"]


def test_untimed_words_align_by_count_within_the_window():
    untimed = [Word(0.0, 0.0, w) for w in "a b c d".split()]
    a = Agreement()
    a.offer(untimed[:3])
    assert [w.text for w in a.offer(untimed)] == ["a", "b", "c"]
    a.restart()  # the window now starts after "c": decodes hear only what follows
    assert [w.text for w in a.finish([Word(0.0, 0.0, "d"), Word(0.0, 0.0, "e")])] == ["d", "e"]


def test_deltas_join_with_spaces():
    words = hyp("x y")
    assert joined(words, first=True) == "x y"
    assert joined(words, first=False) == " x y"
    assert joined([], first=False) == ""
