"""Nothing said is lost: each piece's output is checked against the speech it was given.

A batched decoder hears each window once. faster-whisper's batched pipeline
has no temperature fallback and no check that a window's text covers its
speech, and a window whose first decode ends early (often at a change of
speaker) stays short: whole turns of a conversation vanish without a word.
So after every batch, for every piece:

- **coverage**: the speech its words cover. A word covers at most
  :data:`WORD_S` (an aligner stretches a word over speech that was never
  decoded); :data:`GAP_S` or more of speech without a word is text missing.
- **text per second of speech**, for output without word times (Canary
  without a timestamp model): under :data:`MIN_UNITS_PER_S` is text missing.
- **the decoder's own signals** (Whisper's, with faster-whisper's own
  thresholds): a compression ratio above 2.4 (a loop) or an average
  log-probability under -1 make the whole piece doubtful, unless the decoder
  judged it silent (no-speech probability above 0.6 as well).

Each missing stretch (or a doubtful piece whole) is decoded again the careful
way: alone, ``batch_size`` 1 (for Whisper, faster-whisper's sequential
decoder with its temperature fallback), with the text before it as the
prompt. Its words replace what the batch gave there, unless the batch had
more words there and nothing made the piece doubtful. What still has no text
is returned, for the notes a user sees.

Only a piece's own audio is ever decoded again: speech the VAD found, never
the pauses it left out, so a re-decode adds no words to silence.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace

from stt_studio.audio import chunking
from stt_studio.domain import Audio, Segment, TranscriptionOptions
from stt_studio.engines.base import DecodeSignals, EngineOutput, LoadedModel

log = logging.getLogger(__name__)

#: this much speech without a word is missing text. Fitted on the even-numbered
#: conversations of bench/completeness.py (the longest stretch without a word in a
#: window that lost nothing was 2.0 s there; windows that lost a turn left 3.6 s
#: and more); the odd-numbered ones are held out and reported in bench/RESULTS.md
GAP_S = 2.0
#: a word covers at most this much of the speech it was aligned to
WORD_S = 1.0
#: a gap is heard again with the stretches without words of at least MINOR_S
#: that lie less than JOIN_S from it
MINOR_S = 0.8
JOIN_S = 2.0
#: output without word times: fewer text units (words; characters of scripts
#: written without spaces) per second of speech than this is missing text ...
MIN_UNITS_PER_S = 0.5
#: ... once the piece has at least this much speech
RATE_SPEECH_S = 6.0
#: faster-whisper's own thresholds for decoding a window again
COMPRESSION_RATIO_MAX = 2.4
LOG_PROB_MIN = -1.0
NO_SPEECH_MIN = 0.6
#: a stretch still without words after a re-decode is decoded again on its own, up to
#: this many rounds in all (a decoder that skips the start of a span hears the rest anew)
ROUNDS = 2
#: at most this much of the text before a stretch goes into its prompt
CONTEXT_CHARS = 200


@dataclass(frozen=True, slots=True)
class Gap:
    """[start_s, end_s) of a piece (its own time: speech only, pauses left out)."""

    start_s: float
    end_s: float

    @property
    def length_s(self) -> float:
        return self.end_s - self.start_s

    def holds(self, t_s: float) -> bool:
        return self.start_s <= t_s < self.end_s


@dataclass(frozen=True, slots=True)
class Checked:
    """A piece's output after the check; ``missing``: still without text (piece time)."""

    output: EngineOutput
    missing: tuple[Gap, ...] = ()
    redone: tuple[Gap, ...] = ()
    reason: str | None = None  # why the piece was decoded again, for logs


def doubtful(signals: DecodeSignals | None) -> str | None:
    """Why the decoder's own signals say the piece should be decoded again (None: fine)."""
    if signals is None or silent(signals):
        return None
    if signals.compression_ratio > COMPRESSION_RATIO_MAX:
        return f"compression ratio {signals.compression_ratio:.2f} (a loop)"
    if signals.avg_logprob < LOG_PROB_MIN:
        return f"average log-probability {signals.avg_logprob:.2f}"
    return None


def silent(signals: DecodeSignals | None) -> bool:
    """The decoder judged the piece to hold no speech (faster-whisper's own rule)."""
    return (signals is not None and signals.no_speech_prob > NO_SPEECH_MIN
            and signals.avg_logprob < LOG_PROB_MIN)


def text_units(text: str) -> int:
    """Words, counting each character of scripts written without spaces as one."""
    count = 0
    for token in text.split():
        dense = sum(1 for ch in token if _dense(ch))
        count += dense if dense else 1
    return count


def _dense(ch: str) -> bool:
    name = unicodedata.name(ch, "")
    return name.startswith(("CJK", "HIRAGANA", "KATAKANA", "HANGUL", "THAI"))


def _runs(segments: Sequence[Segment], duration_s: float, *,
          has_timestamps: bool) -> list[Gap] | None:
    """Every stretch of the piece's speech without a word (None: output without times)."""
    words = [w for seg in segments for w in seg.words]
    if words:
        cover = [(w.start_s, min(w.end_s, w.start_s + WORD_S)) for w in words]
    elif has_timestamps or not segments:
        cover = [(s.start_s, s.end_s) for s in segments]
    else:
        return None
    out = []
    at = 0.0
    for start, end in sorted(cover):
        if start > at:
            out.append(Gap(at, start))
        at = max(at, end)
    if duration_s > at:
        out.append(Gap(at, duration_s))
    return out


def _sparse(segments: Sequence[Segment], duration_s: float) -> bool:
    """Text without times: too little of it for the speech (its amount is all there is)."""
    units = sum(text_units(s.text) for s in segments)
    return duration_s >= RATE_SPEECH_S and units / duration_s < MIN_UNITS_PER_S


def gaps(segments: Sequence[Segment], duration_s: float, *,
         has_timestamps: bool = True) -> list[Gap]:
    """The stretches of a piece's speech its output leaves without text (:data:`GAP_S` or more)."""
    runs = _runs(segments, duration_s, has_timestamps=has_timestamps)
    if runs is None:
        return [Gap(0.0, duration_s)] if _sparse(segments, duration_s) else []
    return [r for r in runs if r.length_s >= GAP_S - 1e-9]


def to_redo(segments: Sequence[Segment], duration_s: float, *,
            has_timestamps: bool = True) -> list[Gap]:
    """What to decode again: each gap, with the shorter stretches without words next to it.

    A decoder that skipped a turn often aligns a word or two of what follows
    into it, stretched (a 2.7 s "you"), and leaves the rest of the turn as a
    shorter stretch beyond them; stretches of :data:`MINOR_S` or more less
    than :data:`JOIN_S` apart are heard again together, with what lies between.
    """
    runs = _runs(segments, duration_s, has_timestamps=has_timestamps)
    if runs is None:
        return gaps(segments, duration_s, has_timestamps=has_timestamps)
    clusters: list[tuple[Gap, float]] = []  # (span, its longest run)
    for run in (r for r in runs if r.length_s >= MINOR_S):
        if clusters and run.start_s - clusters[-1][0].end_s < JOIN_S:
            span, longest = clusters[-1]
            clusters[-1] = (Gap(span.start_s, run.end_s), max(longest, run.length_s))
        else:
            clusters.append((run, run.length_s))
    return [span for span, longest in clusters if longest >= GAP_S - 1e-9]


def splice(segments: Sequence[Segment], gap: Gap,
           new: Sequence[Segment]) -> tuple[Segment, ...]:
    """``segments`` with what lies in ``gap`` replaced by ``new`` (all in piece time)."""
    kept: list[Segment] = []
    for seg in segments:
        if seg.words:
            words = tuple(w for w in seg.words if not gap.holds((w.start_s + w.end_s) / 2))
            if len(words) == len(seg.words):
                kept.append(seg)
            elif words:
                kept.append(Segment(words[0].start_s, words[-1].end_s,
                                    " ".join(w.text for w in words), words, seg.speaker))
        elif not gap.holds((seg.start_s + seg.end_s) / 2):
            kept.append(seg)
    kept.extend(new)
    return tuple(sorted(kept, key=lambda s: (s.start_s, s.end_s)))


def _units_in(segments: Sequence[Segment], gap: Gap) -> int:
    count = 0
    for seg in segments:
        if seg.words:
            count += sum(text_units(w.text) for w in seg.words
                         if gap.holds((w.start_s + w.end_s) / 2))
        elif gap.holds((seg.start_s + seg.end_s) / 2):
            count += text_units(seg.text)
    return count


def _text_before(segments: Sequence[Segment], at_s: float) -> str:
    words = [w.text for seg in segments for w in seg.words if w.end_s <= at_s + 1e-6]
    if words:
        return " ".join(words)
    return " ".join(seg.text for seg in segments if seg.end_s <= at_s + 1e-6)


def prompt_for(user_prompt: str | None, context: str) -> str | None:
    """The user's prompt, then the last :data:`CONTEXT_CHARS` of the text before."""
    context = " ".join(context.split())
    if len(context) > CONTEXT_CHARS:
        cut = context[-CONTEXT_CHARS:]
        context = cut.split(" ", 1)[1] if " " in cut else cut
    joined = " ".join(p for p in (user_prompt or "", context) if p)
    return joined or None


def last_text(checked: Sequence[Checked]) -> str:
    """The text a batch ended with: the context of the next one."""
    return " ".join(s.text for c in checked for s in c.output.segments)[-4 * CONTEXT_CHARS:]


def complete(loaded: LoadedModel, audios: Sequence[Audio], outputs: Sequence[EngineOutput],
             options: TranscriptionOptions, *, context: str = "",
             local_attention: bool = False) -> list[Checked]:
    """Check each piece's output against its speech; decode what falls short again.

    ``audios`` and ``outputs`` pair up, in time order; ``context`` is the text
    heard just before the first of them.
    """
    careful = replace(options, batch_size=1, word_timestamps=True)
    checked: list[Checked] = []
    for audio, output in zip(audios, outputs):
        one = _complete_one(loaded, audio, output, careful, context, local_attention)
        checked.append(one)
        context = last_text([one]) or context
    return checked


def _complete_one(loaded: LoadedModel, audio: Audio, output: EngineOutput,
                  careful: TranscriptionOptions, context: str,
                  local_attention: bool) -> Checked:
    duration_s = audio.duration_s
    reason = doubtful(output.signals)
    found = to_redo(output.segments, duration_s, has_timestamps=output.has_timestamps)
    if reason is None and (not found or silent(output.signals)):
        return Checked(output, tuple(_still_missing(output, gaps(
            output.segments, duration_s, has_timestamps=output.has_timestamps))))
    todo = [Gap(0.0, duration_s)] if reason else found
    segments = output.segments
    redone: list[Gap] = []
    why = reason
    for _ in range(ROUNDS):
        for gap in todo:
            segments = _again(loaded, audio, segments, gap, careful,
                              context=context, reason=why, local_attention=local_attention)
        redone.extend(todo)
        left = to_redo(segments, duration_s, has_timestamps=output.has_timestamps)
        if not left or left == todo:
            break
        todo, why = left, None  # what is still missing, heard on its own this time
    final = replace(output, segments=segments, signals=None)
    return Checked(final, tuple(_still_missing(final, gaps(
        segments, duration_s, has_timestamps=output.has_timestamps))), tuple(redone), reason)


def _again(loaded: LoadedModel, audio: Audio, segments: tuple[Segment, ...], gap: Gap,
           careful: TranscriptionOptions, *, context: str, reason: str | None,
           local_attention: bool) -> tuple[Segment, ...]:
    """``gap`` of the piece decoded alone; its words in place of the batch's there."""
    rate = audio.sample_rate_hz
    piece = Audio(audio.samples[int(gap.start_s * rate):int(gap.end_s * rate)], rate)
    before = f"{context} {_text_before(segments, gap.start_s)}"
    log.info("%.1f s of speech at %.1f s of a %.1f s piece %s; decoding it again, alone",
             gap.length_s, gap.start_s, audio.duration_s,
             f"is doubtful: {reason}" if reason else "has no words")
    again = loaded.transcribe_batch(
        [piece], replace(careful, initial_prompt=prompt_for(careful.initial_prompt, before)),
        local_attention=local_attention)[0]
    new = tuple(chunking.shift(s, gap.start_s) for s in again.segments if s.text.strip())
    heard = sum(text_units(s.text) for s in new)
    if heard and (reason or heard >= _units_in(segments, gap)):
        return splice(segments, gap, new)
    return segments


def _still_missing(output: EngineOutput, found: Sequence[Gap]) -> list[Gap]:
    """What a user is told about: stretches without words, or a piece with no text at all."""
    if output.has_timestamps or not output.segments:
        return list(found)
    return []  # text without times that is merely sparse: some text came
