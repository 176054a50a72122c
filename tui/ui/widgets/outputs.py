"""Outputs pane: the highlighted job's output groups and, under each, its results with the
picked version, a passthrough badge and the row count of that version."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.widgets import Tree

from ...core.errors import RefError
from ...core.model import Job, OutputGroup, OutputResult
from ...core.refs import FINAL, Version
from ..marks import style
from ..messages import ResultHighlighted
from .pane import PaneTree

Pick = dict[tuple[str, str, str], Version]


def pick_key(result: OutputResult) -> tuple[str, str, str]:
    return (result.job, result.output, result.name)


def rows_text(count: int | None) -> str:
    if count is None:
        return "? rows"
    return f"{count:,} row{'s' if count != 1 else ''}"


def result_label(result: OutputResult, version: Version) -> Text:
    text = Text()
    ref = result.ref(version)
    if not result.complete:
        text.append(ref.short, style="dim")
        text.append("  no metafile (incomplete)", style="dim italic")
        return text
    text.append(str(ref), style="bold" if version != FINAL else "")  # .F too: the version is always shown
    if result.passthrough:
        text.append(" pt", style=style("passthrough"))
    try:
        rows = result.rows_at(version)
    except RefError:
        rows = None
    text.append(f" {rows_text(rows)}", style="dim")
    if len(result.versions) > 1:
        shown = result.final_version if version == FINAL else version
        text.append(f" it{shown} ({len(result.versions)})", style="dim")
    return text


def group_label(group: OutputGroup) -> Text:
    text = Text()
    text.append(group.name, style="bold")
    text.append(f"  {group.type}", style="italic")
    if group.num_items is not None:
        text.append(f"  {group.num_items:,} item{'s' if group.num_items != 1 else ''}", style="dim")
    return text


class OutputsTree(PaneTree[object]):
    def __init__(self, **kwargs) -> None:
        super().__init__("outputs", **kwargs)
        self.job: Job | None = None
        self._result_nodes: dict[tuple[str, str, str], object] = {}
        self._announced: object = None  # the node show_job announced (Textual may announce it too)

    def show_job(self, job: Job | None, picks: Pick, wanted_types: set[str] | None = None) -> None:
        """Show a job's outputs. Groups of a type the target can take (``wanted_types``) are
        expanded, the others collapsed, so a 15-result exposure group does not hide the particles."""
        self.clear()
        self._result_nodes = {}
        self.job = job
        if job is None:
            self.move_cursor(None)
            self._announce_first()
            return
        outputs = job.outputs  # read first: parsing them can find the document malformed
        if job.broken:
            self.root.add_leaf(Text(f"{job.uid} cannot be read: {job.error}", style=style("error")))
            self._place_cursor()  # on the message: nothing of the last job stays under the cursor
            self._announce_first()
            return
        if not outputs:
            self.root.add_leaf(Text("no outputs (not run yet, or a job without outputs)", style="dim"))
        relevant = {g.name for g in job.outputs if wanted_types is None or g.type in wanted_types}
        with self.bulk():  # one invalidation for the whole job, not one per node
            for group in job.outputs:
                expand = not relevant or group.name in relevant
                node = self.root.add(group_label(group), data=group, expand=expand)
                for result in group.results:
                    version = picks.get(pick_key(result), FINAL)
                    self._result_nodes[pick_key(result)] = node.add_leaf(result_label(result, version), data=result)
        self._place_cursor()
        self._announce_first()

    def _announce_first(self) -> None:
        """Say where the cursor is on a job just shown: Textual says it only when the cursor's
        line number changed, and the next job's first result is often on the same line."""
        self._announced = self.cursor_node
        self.post_message(ResultHighlighted(self.current_group, self.current_result, job_shown=True))

    def _place_cursor(self) -> None:
        """Start on the first result of the first expanded group: that is what y yanks."""
        first_open = next((n for n in self.root.children if n.is_expanded and n.children), None)
        if first_open is not None:
            self.move_cursor(first_open.children[0])
        elif self.root.children:
            self.move_cursor(self.root.children[0])

    def refresh_result(self, result: OutputResult, version: Version) -> None:
        node = self._result_nodes.get(pick_key(result))
        if node is not None:
            node.set_label(result_label(result, version))

    @property
    def current_result(self) -> OutputResult | None:
        node = self.cursor_node
        return node.data if node is not None and isinstance(node.data, OutputResult) else None

    @property
    def current_group(self) -> OutputGroup | None:
        node = self.cursor_node
        if node is None:
            return None
        if isinstance(node.data, OutputGroup):
            return node.data
        if isinstance(node.data, OutputResult) and self.job is not None:
            return self.job.output(node.data.output)
        return None

    def go_to_result(self, result_key: tuple[str, str, str]) -> bool:
        node = self._result_nodes.get(result_key)
        if node is None:
            return False
        if not node.parent.is_expanded:
            node.parent.expand()
        self.move_cursor(node)
        return True

    @on(Tree.NodeHighlighted)
    def _announce(self, event: Tree.NodeHighlighted) -> None:
        event.stop()
        if event.node is self._announced:
            return
        self._announced = None
        self.post_message(ResultHighlighted(self.current_group, self.current_result))
