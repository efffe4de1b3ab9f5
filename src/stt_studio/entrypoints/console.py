"""Console logging and error printing shared by the command-line shells."""

from __future__ import annotations

import logging
import sys

from stt_studio.errors import StudioError, UnexpectedError

log = logging.getLogger("stt_studio")


def configure_logging(debug: bool = False, quiet: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s",
                                           "%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.WARNING)
    level = logging.DEBUG if debug else (logging.WARNING if quiet else logging.INFO)
    logging.getLogger("stt_studio").setLevel(level)


def as_studio_error(exc: BaseException) -> StudioError:
    """The outermost translation: anything not already ours is 'unexpected'."""
    if isinstance(exc, StudioError):
        return exc
    return UnexpectedError(
        f"{type(exc).__name__}: {exc}",
        causes=("A bug in stt-studio or in one of its engines",),
        detail="The full traceback is in the console log",
    )


def report(exc: BaseException, *, subject: str | None = None, show_traceback: bool = False) -> str:
    """Print the readable message to stderr (traceback only on request); return it."""
    error = as_studio_error(exc)
    if show_traceback:
        log.error("traceback of the failure%s", f" ({subject})" if subject else "",
                  exc_info=(type(exc), exc, exc.__traceback__))
    text = error.render()
    head = f"✗ {subject}\n" if subject else ""
    print(f"{head}{text}\n", file=sys.stderr)
    return text
