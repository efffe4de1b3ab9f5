"""Which models an API client may name, and the listing of them.

A client on the network must never make the server open a path of its
choosing, so the API takes registry names and aliases, hub ids already in
the cache, the studio's default model and models the operator has loaded —
never a path. ``whisper-1`` (what OpenAI's clients send by default) means the
default model.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from stt_studio.domain import ModelSpec
from stt_studio.entrypoints.api import shapes
from stt_studio.errors import ModelNotFoundError
from stt_studio.models import catalog, store

if TYPE_CHECKING:
    from stt_studio.service import Studio

log = logging.getLogger(__name__)

#: OpenAI's model names, taken as "this studio's default model"
OPENAI_NAMES = ("whisper-1",)


def resolve(studio: Studio, name: str | None) -> ModelSpec:
    """The model a request names (None or an OpenAI name: the default)."""
    default = studio.settings.default_model
    key = (name or "").strip()
    if not key or key in OPENAI_NAMES:
        return catalog.resolve(default)
    if key == default or key in {entry.name for entry in studio.loaded()}:
        return catalog.resolve(key)
    known = catalog.registered(key)
    if known is not None:
        return known
    parts = key.split("/")
    if len(parts) == 2 and all(parts) and not key.startswith((".", "~")):
        spec = catalog.hub_spec(key)
        try:
            if store.cached_path(spec, studio.layout) is not None:
                return spec
        except OSError:
            log.warning("cannot look for %s in the cache", key, exc_info=True)
    raise ModelNotFoundError(
        f"unknown model {key!r}",
        causes=("The name is not in this studio's registry, not loaded, and not a hub model "
                "in its cache (the API never takes file paths)",),
        remedies=(f"Use one of: {', '.join(available_names(studio))}",
                  f"Or {OPENAI_NAMES[0]} (or no model) for the default, {default}",
                  "GET /v1/models lists them with their state"),
    )


def available_names(studio: Studio) -> list[str]:
    names = [spec.name for spec in catalog.CATALOG]
    extra = [entry.name for entry in studio.loaded() if entry.name not in names]
    default = studio.settings.default_model
    return names + extra + ([default] if default not in names + extra else [])


def listing(studio: Studio, created_s: int) -> list[dict[str, Any]]:
    """Every model a client may name, in OpenAI's shape with the studio's state."""
    loaded = {entry.name for entry in studio.loaded()}
    rows = [shapes.model_object(status.spec, created_s, cached=status.cached,
                                loaded=status.spec.name in loaded)
            for status in studio.list_models()]
    listed = {row["id"] for row in rows}
    for name in available_names(studio):
        if name not in listed:  # the operator's own models: loaded or the default
            spec = catalog.resolve(name)
            rows.append(shapes.model_object(spec, created_s, cached=True,
                                            loaded=name in loaded))
    return rows
