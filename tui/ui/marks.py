"""Styles that carry meaning, and what they become without colour. With NO_COLOR set, Textual
greys every colour by its luminance, so red or green on a dark background all but vanishes;
states are then marked with reverse, bold and underline instead (the text markers — ✗, ✓, +, * —
are there either way)."""

from __future__ import annotations

# meaning → (with colour, without)
STYLES: dict[str, tuple[str, str]] = {
    "error": ("bold red", "bold reverse"),  # refusals, failed jobs, a required slot left empty
    "killed": ("red", "reverse"),
    "ok": ("green", ""),
    "busy": ("yellow", "bold"),  # running, started
    "queued": ("cyan", "underline"),
    "compatible": ("bold green", "bold underline"),  # slots the register fits
    "pending": ("bold yellow", "bold underline"),  # edits not written out
    "unknown": ("yellow", "underline"),  # rows that could not be counted
    "passthrough": ("italic cyan", "italic"),
}
_monochrome = False


def use_monochrome(monochrome: bool) -> None:
    """Set once by the app, from Textual's own reading of NO_COLOR."""
    global _monochrome
    _monochrome = monochrome


def style(meaning: str) -> str:
    colour, plain = STYLES[meaning]
    return plain if _monochrome else colour
