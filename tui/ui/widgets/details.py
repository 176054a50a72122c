"""Details of the highlighted result or slot: metafile, rows and the .cs header's fields."""

from __future__ import annotations

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from ...core.csfile import CsHeader
from ...core.model import ResolvedResult


def details_text(resolved: ResolvedResult, header: CsHeader | None, problem: str | None) -> Text:
    text = Text()
    text.append(str(resolved.ref), style="bold")
    kind = "passthrough" if resolved.passthrough else f"version {resolved.version}"
    text.append(f"  {resolved.group_type} {resolved.dtype}, {kind}\n", style="italic")
    text.append("metafile ", style="dim")
    text.append(resolved.metafile)
    rows = f"{resolved.num_items:,}" if resolved.num_items is not None else "?"
    text.append(f"   rows {rows}", style="dim")
    if header is not None:
        text.append(f" (file: {header.num_rows:,}, {header.format})", style="dim")
        fields = header.fields_of(resolved.ref.result)
        text.append(f"\n{len(fields)} fields: ", style="dim")
        text.append(", ".join(f"{f.split('/', 1)[1]} {header.describe_field(f)}" for f in fields))
        others = [p for p in header.prefixes if p != resolved.ref.result]
        if others:
            text.append("\nsame file also holds: ", style="dim")
            text.append(", ".join(others), style="dim")
    if problem:
        text.append(f"\n{problem}", style="bold red")
    return text


class DetailsPane(VerticalScroll):
    def compose(self):
        yield Static(id="details-body")

    def show(self, content: Text | str) -> None:
        self.query_one("#details-body", Static).update(content)
