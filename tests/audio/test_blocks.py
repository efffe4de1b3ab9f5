"""A stream of chunks -> blocks of bounded length, cut in pauses (pure code, no model)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from stt_studio.audio import vad
from stt_studio.audio.blocks import FRAME, Block, blocks, cut_point
from stt_studio.audio.vad import Span
from stt_studio.domain import SAMPLE_RATE_HZ

RATE = SAMPLE_RATE_HZ


def layout(rng: np.random.Generator, total_s: float) -> tuple[np.ndarray, list[Span]]:
    """Bursts of "speech" (noise, never exactly 0) between pauses of exact zeros."""
    samples = np.zeros(int(total_s * RATE), dtype=np.float32)
    spans = []
    at = int(rng.uniform(0.1, 0.5) * RATE)
    while at < len(samples):
        length = int(rng.uniform(0.2, 0.9) * RATE)
        end = min(at + length, len(samples))
        burst = rng.uniform(0.05, 0.5, end - at) * rng.choice([-1, 1], end - at)
        samples[at:end] = burst
        spans.append(Span(at, end))
        at = end + int(rng.uniform(0.15, 0.6) * RATE)
    return samples, spans


def zero_gated(samples: np.ndarray) -> tuple[Span, ...]:
    """A stand-in VAD that is exactly right: speech is wherever the samples are not 0."""
    voiced = np.concatenate([[False], samples != 0, [False]])
    edges = np.flatnonzero(np.diff(voiced.astype(np.int8)))
    return tuple(Span(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2]))


def chunked(samples: np.ndarray, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Chunks of random sizes, as a decoder hands them out (1 sample to 1.5 s)."""
    at = 0
    while at < len(samples):
        size = int(rng.choice([1, 7, 512, 1024, 4096, int(rng.integers(1, int(1.5 * RATE)))]))
        yield samples[at:at + size].copy()
        at += size


@pytest.mark.parametrize("seed", range(6))
def test_blocks_give_back_every_sample_in_order_and_cut_in_pauses(seed):
    rng = np.random.default_rng(seed)
    samples, truth = layout(rng, total_s=float(rng.uniform(9, 25)))
    block_s = float(rng.uniform(2.0, 4.0))
    out = list(blocks(chunked(samples, rng), block_s=block_s, speech=zero_gated))

    assert np.array_equal(np.concatenate([b.samples for b in out]), samples)
    assert len(out) >= 3
    offset = 0
    for block in out:
        assert block.offset_sample == offset
        assert 0 < len(block.samples) <= int(block_s * RATE)
        for span in block.speech:  # block-relative, inside the block
            assert 0 <= span.start_sample < span.end_sample <= len(block.samples)
        offset += len(block.samples)
    inside_speech = np.zeros(len(samples) + 1, dtype=bool)
    for span in truth:
        inside_speech[span.start_sample + 1:span.end_sample] = True  # strictly inside
    for block in out[:-1]:
        cut = block.offset_sample + len(block.samples)
        assert not inside_speech[cut], f"cut at {cut / RATE:.3f} s is inside a word"
        assert samples[cut - 1] == 0 or samples[cut] == 0


def test_block_speech_is_what_the_vad_says_of_that_block():
    rng = np.random.default_rng(11)
    samples, _ = layout(rng, total_s=14.0)
    for block in blocks(chunked(samples, rng), block_s=3.0, speech=zero_gated):
        expected = zero_gated(block.samples)
        # a span cut by the block's end is kept up to the cut
        assert block.speech == expected


def test_no_vad_cuts_at_the_quietest_100_ms_past_the_middle():
    rng = np.random.default_rng(3)
    samples = (rng.standard_normal(10 * RATE) * 0.3).astype(np.float32)
    quiet_a, quiet_b = int(7.23 * RATE), int(7.53 * RATE)  # 300 ms, not frame-aligned
    samples[quiet_a:quiet_b] *= 0.01
    samples[int(2.0 * RATE):int(2.5 * RATE)] = 0.0  # quieter still, but before the middle
    first = next(blocks(iter([samples]), block_s=9.0, speech=vad.whole))
    cut = len(first.samples)
    assert quiet_a <= cut < quiet_b
    assert first.speech == (Span(0, cut),)


def test_a_block_holds_at_most_block_s_even_without_any_pause():
    rng = np.random.default_rng(4)
    samples = (rng.standard_normal(12 * RATE) * 0.3).astype(np.float32)
    out = list(blocks(iter(np.array_split(samples, 37)), block_s=2.5, speech=vad.whole))
    assert all(len(b.samples) <= int(2.5 * RATE) for b in out)
    assert np.array_equal(np.concatenate([b.samples for b in out]), samples)


def test_blocks_hold_no_more_than_about_a_block():
    """Memory: the samples kept between blocks never exceed the block plus one chunk."""
    rng = np.random.default_rng(5)
    samples, _ = layout(rng, total_s=60.0)
    fed = 0
    handed = 0
    most_held = 0

    def feed() -> Iterator[np.ndarray]:
        nonlocal fed
        for chunk in np.array_split(samples, 600):
            fed += len(chunk)
            yield chunk

    for block in blocks(feed(), block_s=3.0, speech=zero_gated):
        handed += len(block.samples)
        most_held = max(most_held, fed - handed)
    assert handed == len(samples)
    assert most_held <= 3 * RATE + len(samples) // 600 + 1


# -- where a full block ends --------------------------------------------------------------

N = 10 * RATE  # a 10 s block


def test_cut_in_the_last_pause_past_the_middle():
    spans = (Span(0, 2 * RATE), Span(3 * RATE, 6 * RATE), Span(7 * RATE, 9 * RATE),
             Span(9 * RATE, N))
    # pauses: 2-3 s (before the middle), 6-7 s (past it); 9 s is two spans meeting
    assert cut_point(np.zeros(N, np.float32), spans) == int(6.5 * RATE)


def test_cut_just_after_speech_that_stops_before_the_end():
    spans = (Span(RATE, 8 * RATE),)
    assert cut_point(np.zeros(N, np.float32), spans) == 8 * RATE + FRAME


def test_cut_where_two_spans_meet_when_there_is_no_pause():
    spans = (Span(0, 4 * RATE), Span(4 * RATE, 7 * RATE), Span(7 * RATE, N))
    assert cut_point(np.zeros(N, np.float32), spans) == 7 * RATE


def test_cut_at_the_quietest_frame_when_speech_never_stops():
    rng = np.random.default_rng(8)
    samples = (rng.standard_normal(N) * 0.2).astype(np.float32)
    samples[int(8.0 * RATE):int(8.3 * RATE)] *= 0.001
    cut = cut_point(samples, (Span(0, N),))
    assert 8.0 * RATE <= cut < 8.3 * RATE


def test_block_offsets_are_in_seconds_too():
    block = Block(3 * RATE, np.zeros(RATE // 2, np.float32), ())
    assert (block.offset_s, block.duration_s) == (3.0, 0.5)
