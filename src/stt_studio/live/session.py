"""One live session: audio in as it is heard, typed events out.

The shells (the realtime API, the page's Live tab, ``stt-studio live``) feed
16 kHz samples with :meth:`LiveSession.append` from their own thread and
render the events that :data:`Emit` receives on the session's worker thread.
The worker hears the audio (Silero, :mod:`detector`), decodes what
:mod:`schedule` says, settles words by agreement (:mod:`agreement`) and
remembers only what is still needed: the open turn's window and the closed
turns not yet decoded for good. Closed turns keep their words, as segments.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from stt_studio.completeness import prompt_for
from stt_studio.domain import SAMPLE_RATE_HZ, Segment, Word
from stt_studio.errors import LiveLimitError, StudioError, UnexpectedError
from stt_studio.live import schedule
from stt_studio.live.agreement import Agreement, joined
from stt_studio.live.detector import SileroScores, TurnDetector, TurnRules

log = logging.getLogger(__name__)

#: the text of the turns before goes into a decode's prompt, at most this much
CONTEXT_CHARS = 200
#: a segment of the session's transcript ends at a sentence's end or a pause this long
SEGMENT_PAUSE_S = 1.0
SENTENCE_END = (".", "?", "!", "。", "？", "！")


# -- events ------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SpeechStarted:
    item_id: str
    audio_start_ms: int


@dataclass(frozen=True, slots=True)
class SpeechStopped:
    item_id: str
    audio_end_ms: int


@dataclass(frozen=True, slots=True)
class Committed:
    item_id: str
    previous_item_id: str | None


@dataclass(frozen=True, slots=True)
class Delta:
    """Newly settled words of a turn; appended to what came before, never taken back."""

    item_id: str
    text: str


@dataclass(frozen=True, slots=True)
class Pending:
    """The words still being heard in the open turn (they may change; shown greyed)."""

    item_id: str
    text: str


@dataclass(frozen=True, slots=True)
class Completed:
    item_id: str
    transcript: str  # the turn's deltas joined
    segments: tuple[Segment, ...]  # session time
    audio_s: float


@dataclass(frozen=True, slots=True)
class Failed:
    item_id: str
    error: StudioError


@dataclass(frozen=True, slots=True)
class Problem:
    """A request the session refused (an empty commit, a limit); the session goes on."""

    error: StudioError
    code: str


@dataclass(frozen=True, slots=True)
class Cleared:
    pass


@dataclass(frozen=True, slots=True)
class Lag:
    """How far the text is behind the audio received."""

    lag_s: float
    behind: bool


Event = (SpeechStarted | SpeechStopped | Committed | Delta | Pending | Completed | Failed
         | Problem | Cleared | Lag)
Emit = Callable[[Event], None]


class Decoder(Protocol):
    def decode(self, samples: np.ndarray, *, prompt: str | None,
               final: bool) -> tuple[Segment, ...]:
        """Segments of ``samples`` (16 kHz), times relative to them. ``final``: the turn's
        last decode (checked for completeness), else a partial (fast)."""
        ...


@dataclass(frozen=True, slots=True)
class LiveOptions:
    """``turns``: server-side turn detection (None: the client commits)."""

    turns: TurnRules | None = field(default_factory=TurnRules)
    prompt: str | None = None
    partial_every_s: float = 0.7
    max_window_s: float = 15.0
    max_session_s: float = 4 * 3600.0
    max_backlog_s: float = 120.0


@dataclass(slots=True)
class _Turn:
    item_id: str
    start: int  # samples of the session
    window: int  # where the window decoded for it starts
    end: int | None = None  # set when the turn closed
    decoded_to: int = 0
    sent: bool = False  # a delta went out
    agreement: Agreement = field(default_factory=Agreement)


class _Audio:
    """The session's audio from ``base`` on, as the chunks that came."""

    def __init__(self) -> None:
        self.chunks: deque[np.ndarray] = deque()
        self.base = 0
        self.total = 0

    def add(self, samples: np.ndarray) -> None:
        self.chunks.append(samples)
        self.total += len(samples)

    def span(self, start: int, end: int) -> np.ndarray:
        out, at = [], self.base
        for chunk in self.chunks:
            lo, hi = max(start - at, 0), min(end - at, len(chunk))
            if hi > lo:
                out.append(chunk[lo:hi])
            at += len(chunk)
            if at >= end:
                break
        return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)

    def forget_before(self, sample: int) -> None:
        while self.chunks and self.base + len(self.chunks[0]) <= sample:
            self.base += len(self.chunks.popleft())


def _ms(samples: int) -> int:
    return samples * 1000 // SAMPLE_RATE_HZ


def words_of(segments: tuple[Segment, ...], offset_s: float) -> list[Word]:
    """A decode's words in session time; a model without word times gives its text's words,
    untimed (aligned by count)."""
    out: list[Word] = []
    for segment in segments:
        if segment.words:
            out.extend(Word(w.start_s + offset_s, w.end_s + offset_s, w.text)
                       for w in segment.words if w.text.strip())
        else:
            out.extend(Word(0.0, 0.0, token) for token in segment.text.split())
    return out


def segments_of(words: list[Word], start_s: float, end_s: float) -> tuple[Segment, ...]:
    """A turn's settled words as the transcript's segments (sentences, or runs between pauses)."""
    if not words:
        return ()
    if not any(w.end_s > 0 for w in words):
        return (Segment(start_s, end_s, joined(words, first=True)),)
    out: list[Segment] = []
    run: list[Word] = []
    for i, word in enumerate(words):
        run.append(word)
        last = i == len(words) - 1
        pause = not last and words[i + 1].start_s - word.end_s >= SEGMENT_PAUSE_S
        if last or pause or word.text.endswith(SENTENCE_END):
            out.append(Segment(run[0].start_s, run[-1].end_s, joined(run, first=True),
                               tuple(run)))
            run = []
    return tuple(out)


class LiveSession:
    """Audio in (any thread), events out (the worker thread), the transcript at the end."""

    def __init__(self, decoder: Decoder, options: LiveOptions, emit: Emit, *,
                 scores: Callable[[np.ndarray], list[float]] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.options = options
        self._decoder = decoder
        self._emit = emit
        self._clock = clock
        self._detector = TurnDetector(options.turns) if options.turns is not None else None
        self._scores = (scores or SileroScores().feed) if options.turns is not None else None
        self._inbox: deque[tuple[str, np.ndarray | None]] = deque()
        self._cv = threading.Condition()
        self._stopping = False
        self._aborted = False
        self._audio = _Audio()
        self._open: _Turn | None = None
        self._closed: deque[_Turn] = deque()
        self._last_item: str | None = None
        self._context = ""
        self._last_partial = -1e9
        self._received = 0  # samples appended (the worker may not have heard them yet)
        self._done = 0  # samples whose text (or silence) is known
        self._behind = False
        self._dead: StudioError | None = None  # the worker stopped on this error
        self.segments: list[Segment] = []
        self._thread = threading.Thread(target=self._run, name="live-session", daemon=True)
        self._thread.start()

    # -- the shells' side --------------------------------------------------------
    def append(self, samples: np.ndarray) -> None:
        """16 kHz mono float32 samples, as heard. LiveLimitError past a limit (refused)."""
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        with self._cv:
            if self._dead is not None:  # said once as a Problem; every later append says it too
                raise self._dead
            received_s = (self._received + len(samples)) / SAMPLE_RATE_HZ
            if received_s > self.options.max_session_s:
                raise LiveLimitError(
                    f"a live session is at most {self.options.max_session_s / 60:.0f} minutes",
                    remedies=("Start a new session (the text so far was kept)",
                              "For a whole recording, transcribe the file instead"))
            backlog_s = (self._received - self._done) / SAMPLE_RATE_HZ
            if backlog_s > self.options.max_backlog_s:
                raise LiveLimitError(
                    f"this machine is {backlog_s:.0f} s behind the audio; audio sent now "
                    "is not transcribed until it catches up",
                    causes=("The model decodes slower than people speak on this machine",),
                    remedies=("Use a smaller model (tiny.en or base.en on a CPU)",
                              "Or record first and transcribe the file"))
            self._received += len(samples)
            self._inbox.append(("audio", samples))
            self._cv.notify_all()

    def commit(self) -> None:
        self._command("commit")

    def clear(self) -> None:
        self._command("clear")

    def _command(self, name: str) -> None:
        with self._cv:
            self._inbox.append((name, None))
            self._cv.notify_all()

    def close(self, timeout_s: float | None = None) -> list[Segment]:
        """No more audio: the open turn closes, every closed turn is decoded for good."""
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
        self._thread.join(timeout_s)
        return list(self.segments)

    def abort(self) -> None:
        """The client went away: stop now, decode nothing more."""
        with self._cv:
            self._aborted = self._stopping = True
            self._cv.notify_all()
        self._thread.join()

    @property
    def lag_s(self) -> float:
        with self._cv:
            return (self._received - self._done) / SAMPLE_RATE_HZ

    # -- the worker --------------------------------------------------------------
    def _run(self) -> None:
        try:
            while not self._aborted:
                with self._cv:
                    if not self._inbox and not self._stopping:
                        self._cv.wait(schedule.wait_s(self._state()))
                    inbox, self._inbox = self._inbox, deque()
                    stopping = self._stopping
                for kind, samples in inbox:
                    if self._aborted:
                        return
                    self._take(kind, samples)
                if stopping and not inbox:
                    if self._open is not None:
                        self._close_open(self._audio.total, stopped=self._detector is not None)
                    while self._closed and not self._aborted:
                        self._final(self._closed[0])
                    return
                self._step()
        except Exception as exc:  # noqa: BLE001 - the worker's outermost frame: said, not lost
            log.exception("live session failed")
            dead = UnexpectedError("the live session stopped; start a new one",
                                   detail=f"{type(exc).__name__}: {exc}")
            with self._cv:
                self._dead = dead
            self._emit(Problem(dead, "server_error"))

    def _state(self) -> schedule.State:
        turn = self._open
        new = 0.0 if turn is None else (self._audio.total - turn.decoded_to) / SAMPLE_RATE_HZ
        return schedule.State(len(self._closed), new, self._clock() - self._last_partial,
                              self.options.partial_every_s)

    def _take(self, kind: str, samples: np.ndarray | None) -> None:
        if kind == "audio" and samples is not None:
            self._hear(samples)
        elif kind == "commit":
            if self._open is None or self._audio.total <= self._open.start:
                self._emit(Problem(LiveLimitError(
                    "nothing to commit: the audio buffer is empty",
                    causes=("input_audio_buffer.commit came before any audio",),
                    remedies=("Append audio first",)), "input_audio_buffer_commit_empty"))
                return
            self._close_open(self._audio.total, stopped=False)
            if self._detector is not None:
                self._detector.reset()
        elif kind == "clear":
            self._open = None
            if self._detector is not None:
                self._detector.reset()
            self._emit(Cleared())
            self._mark_done()

    def _hear(self, samples: np.ndarray) -> None:
        at = self._audio.total
        self._audio.add(samples)
        if self._detector is None or self._scores is None:
            if self._open is None:
                self._open = self._new_turn(at)
        else:
            for edge in self._detector.feed(self._scores(samples)):
                if edge.started:
                    self._open = self._new_turn(edge.sample)
                    self._emit(SpeechStarted(self._open.item_id, _ms(edge.sample)))
                elif self._open is not None:
                    self._close_open(edge.sample, stopped=True)
        self._mark_done()

    def _new_turn(self, start: int) -> _Turn:
        return _Turn(f"item_{uuid.uuid4().hex[:20]}", start, start, decoded_to=start)

    def _close_open(self, end: int, *, stopped: bool) -> None:
        turn = self._open
        assert turn is not None
        turn.end = max(end, turn.start)
        if stopped:
            self._emit(SpeechStopped(turn.item_id, _ms(turn.end)))
        self._emit(Committed(turn.item_id, self._last_item))
        self._last_item = turn.item_id
        self._closed.append(turn)
        self._open = None

    def _step(self) -> None:
        action = schedule.next_action(self._state())
        if action is schedule.Action.FINAL:
            self._final(self._closed[0])
        elif action is schedule.Action.PARTIAL and self._open is not None:
            self._partial(self._open)

    def _prompt(self) -> str | None:
        return prompt_for(self.options.prompt, self._context)

    def _decode(self, turn: _Turn, end: int, *, final: bool) -> list[Word] | None:
        samples = self._audio.span(turn.window, end)
        try:
            segments = self._decoder.decode(samples, prompt=self._prompt(), final=final)
        except StudioError as exc:
            self._fail(turn, exc)
            return None
        except Exception as exc:  # noqa: BLE001 - a decoder's own failure, told as the turn's
            log.exception("live decode failed")
            self._fail(turn, UnexpectedError("decoding the turn failed",
                                             detail=f"{type(exc).__name__}: {exc}"))
            return None
        return words_of(segments, turn.window / SAMPLE_RATE_HZ)

    def _fail(self, turn: _Turn, error: StudioError) -> None:
        self._emit(Failed(turn.item_id, error))
        if turn is self._open:
            self._open = None
        elif turn in self._closed:
            self._closed.remove(turn)
        self._mark_done()

    def _partial(self, turn: _Turn) -> None:
        self._last_partial = self._clock()
        end = self._audio.total
        words = self._decode(turn, end, final=False)
        if words is None:
            return
        self._send(turn, turn.agreement.offer(words))
        turn.decoded_to = end
        if (end - turn.window) / SAMPLE_RATE_HZ > self.options.max_window_s:
            cut = turn.agreement.cut()
            if cut is not None and int(cut * SAMPLE_RATE_HZ) > turn.window:
                turn.window = int(cut * SAMPLE_RATE_HZ)
            else:  # a whole window without agreement: its words stand as heard
                self._send(turn, turn.agreement.finish(words))
                turn.window = end
            turn.agreement.restart()
        if turn is self._open:
            self._emit(Pending(turn.item_id, joined(turn.agreement.pending(), first=True)))
        self._mark_done(tell=True)

    def _final(self, turn: _Turn) -> None:
        assert turn.end is not None
        words = self._decode(turn, turn.end, final=True) if turn.end > turn.window else []
        if words is None:
            return
        self._send(turn, turn.agreement.finish(words))
        settled = turn.agreement.settled
        text = joined(settled, first=True)
        segments = segments_of(settled, turn.start / SAMPLE_RATE_HZ, turn.end / SAMPLE_RATE_HZ)
        self.segments.extend(segments)
        self._context = f"{self._context} {text}".strip()[-4 * CONTEXT_CHARS:]
        self._closed.popleft()
        self._emit(Completed(turn.item_id, text, segments,
                             (turn.end - turn.start) / SAMPLE_RATE_HZ))
        self._mark_done(tell=True)

    def _send(self, turn: _Turn, words: list[Word]) -> None:
        text = joined(words, first=not turn.sent)
        if text:
            turn.sent = True
            self._emit(Delta(turn.item_id, text))

    def _mark_done(self, *, tell: bool = False) -> None:
        """What is known now, the audio no longer needed forgotten; the lag told after a
        decode (``tell``) and whenever the session falls behind or catches up."""
        if self._closed:
            done, needed = self._closed[0].decoded_to, self._closed[0].window
        elif self._open is not None:
            done, needed = self._open.decoded_to, self._open.window
        else:
            done = needed = self._audio.total
        pad = (self.options.turns.prefix_padding_ms if self.options.turns else 0)
        self._audio.forget_before(min(needed, self._audio.total - pad * SAMPLE_RATE_HZ // 1000))
        with self._cv:
            self._done = done
            lag_s = (self._received - done) / SAMPLE_RATE_HZ
        behind = schedule.behind(lag_s)
        if tell or behind != self._behind:
            self._behind = behind
            self._emit(Lag(lag_s, behind))
