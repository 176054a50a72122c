"""The tree every pane is built on: Textual's Tree plus vim movement keys with binding ids."""

from __future__ import annotations

from typing import Generic, TypeVar

from textual.widgets import Tree

from ..keys import bindings

T = TypeVar("T")


class PaneTree(Tree[T], Generic[T]):
    BINDINGS = bindings("pane")

    def __init__(self, label: str = "", **kwargs) -> None:
        super().__init__(label, **kwargs)
        self.show_root = False
        self.guide_depth = 2
        self.auto_expand = False

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
