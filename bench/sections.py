"""A benchmark's section of bench/RESULTS.md: kept in bench/work/sections, replaced in place."""

from __future__ import annotations

from pathlib import Path


def compose(text: str, *, heading: str, section_file: Path, results: Path) -> None:
    """Put the section into RESULTS.md in place of its last version (or at the end)."""
    section_file.parent.mkdir(parents=True, exist_ok=True)
    section_file.write_text(text, "utf-8")
    whole = results.read_text("utf-8") if results.exists() else "# Benchmark results\n"
    if heading in whole:
        before, rest = whole.split(heading, 1)
        at = rest.find("\n## ")
        after = rest[at + 1:] if at >= 0 else ""
        whole = before.rstrip() + "\n\n" + text.rstrip() + "\n" + ("\n" + after if after else "")
    else:
        whole = whole.rstrip() + "\n\n" + text.rstrip() + "\n"
    results.write_text(whole, "utf-8")
