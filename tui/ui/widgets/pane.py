"""The tree every pane is built on: Textual's Tree plus vim movement keys with binding ids."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Generic, TypeVar

from rich.text import Text
from textual.geometry import Size
from textual.reactive import Reactive
from textual.widgets import Tree

from ..commands import pane_bindings

T = TypeVar("T")


class SizedByScreen:
    """Mixed into a widget whose size the screen's layout sets, never its content (the panes, the
    filter line). Textual lays out the whole screen whenever a widget's virtual size changes
    (about 10 ms: on every move to another job, whose outputs fill the pane anew, and every
    filter keystroke). Here only the scrollbars follow the content, through Textual's scroll
    update, which asks for a layout when a scrollbar appears or goes."""

    virtual_size = Reactive(Size(0, 0), layout=False)

    def watch_virtual_size(self, size: Size) -> None:
        if self.is_mounted:
            self._scroll_update(size)


class PaneTree(SizedByScreen, Tree[T], Generic[T]):
    BINDINGS = pane_bindings()

    def __init__(self, label: str = "", **kwargs) -> None:
        super().__init__(label, **kwargs)
        self.show_root = False
        self.guide_depth = 2
        self.auto_expand = False

    def process_label(self, label):
        """Our labels are single-line Text already; Textual's default splits every one."""
        if isinstance(label, Text) and "\n" not in label.plain:
            return label
        return super().process_label(label)

    @contextmanager
    def bulk(self):
        """Add many nodes with one cache invalidation instead of one per node (textual is
        pinned exactly, so relying on Tree._invalidate being the per-add hook is safe)."""
        self._bulk_adding = True
        try:
            yield
        finally:
            self._bulk_adding = False
            self._invalidate()

    def _invalidate(self) -> None:
        if not getattr(self, "_bulk_adding", False):
            # Tree._invalidate, less its layout (SizedByScreen; textual is pinned exactly)
            self._clear_line_cache()
            self._updates += 1
            self.root._reset()
            self.refresh()

    def get_label_width(self, node) -> int:
        """Textual renders every label to size the tree; the text's own width is the same
        number at a fraction of the cost (it decides how fast 5,000 jobs appear)."""
        icon = len(self.ICON_NODE_EXPANDED) if node.allow_expand else 0
        return node._label.cell_len + icon

    def move_cursor(self, node, animate: bool = False) -> None:
        """Textual places the cursor by the node's line number, which is stale right after nodes
        were added; build the lines first so the cursor lands on ``node`` at once."""
        self._tree_lines  # noqa: B018 - rebuilds the line table when it was invalidated
        super().move_cursor(node, animate=animate)

    def action_collapse(self) -> None:
        node = self.cursor_node
        if node is None:
            return
        if node.is_expanded and node.children:
            node.collapse()
        elif node.parent is not None and node.parent is not self.root:
            self.move_cursor(node.parent)

    def action_expand(self) -> None:
        node = self.cursor_node
        if node is not None and node.allow_expand and not node.is_expanded:
            node.expand()
        elif node is not None and node.children:
            self.move_cursor(node.children[0])
