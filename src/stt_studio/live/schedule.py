"""What a live session decodes next, so that its lag cannot grow without bound.

Closed turns come first and are never dropped: their final text is what a
client keeps. The open turn is decoded again (a *partial*) only when nothing
closed is waiting, at most every ``partial_every_s``, and only when it grew
by :data:`MIN_NEW_S` since its last decode. A partial is never queued: when
the machine is busy, the partials it would have run are simply not run (the
next one hears everything since), so a slow machine loses only how often the
greyed words change, and the status says it is behind.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

#: an open turn is decoded again once it has grown by at least this much
MIN_NEW_S = 0.3
#: more than this many seconds of audio not yet heard: the status says the session is behind
BEHIND_S = 3.0


class Action(enum.Enum):
    FINAL = "final"  # the oldest closed turn, decoded for good
    PARTIAL = "partial"  # the open turn, decoded again for its settled words
    WAIT = "wait"


@dataclass(frozen=True, slots=True)
class State:
    closed_turns: int  # closed, not yet decoded for good
    open_new_s: float  # audio of the open turn since its last decode (0: none open)
    since_partial_s: float  # time since the last partial started
    partial_every_s: float


def next_action(state: State) -> Action:
    if state.closed_turns:
        return Action.FINAL
    if state.open_new_s >= MIN_NEW_S and state.since_partial_s >= state.partial_every_s:
        return Action.PARTIAL
    return Action.WAIT


def wait_s(state: State) -> float:
    """How long a waiting session may sleep before it looks again (new audio wakes it)."""
    if state.open_new_s <= 0.0:
        return state.partial_every_s
    return max(0.01, state.partial_every_s - state.since_partial_s)


def behind(lag_s: float) -> bool:
    return lag_s > BEHIND_S
