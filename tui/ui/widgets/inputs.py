"""Inputs pane: the target job's input groups, their connections and one row per slot.

While something is yanked, every slot that can take it (and only those) is shown in green
with a ``+`` marker, so the hint survives NO_COLOR."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy and the export code are imported when a join is first measured
    from ...core.preview import ConnectionPreview

from dataclasses import dataclass
from typing import Callable

from rich.text import Text
from textual import on
from textual.widgets import Tree

from ...core.model import Binding, Connection, InputGroup
from ...core.refs import ResultRef, SlotAddress, format_version
from ...core.session import EditSession
from ..messages import SlotHighlighted
from ..marks import style
from .pane import PaneTree


@dataclass(frozen=True)
class InputRow:
    input: str


@dataclass(frozen=True)
class ConnectionRow:
    input: str
    index: int


@dataclass(frozen=True)
class SlotRow:
    address: SlotAddress


@dataclass(frozen=True)
class PassthroughRow:
    input: str
    index: int
    binding: Binding


JoinedRows = Callable[[InputGroup, int, Connection], "ConnectionPreview | None"]


def input_label(group: InputGroup, compatible: bool) -> Text:
    text = Text()
    text.append("+ " if compatible else "", style=style("compatible"))
    text.append(group.name, style=style("compatible") if compatible else "bold")
    text.append(f"  {group.type}  {group.limits}", style="italic")
    return text


def binding_text(connection: Connection, ref: ResultRef) -> str:
    """A slot's binding in its connection's terms, so a narrow pane keeps the version: ``blob.F``
    from the connection's own output, ``J5·blob.F`` from another job's output of the same name,
    ``J5.particles_fcrop·blob.F`` otherwise (the status bar and details show the whole reference)."""
    tail = f"{ref.result}.{format_version(ref.version)}"
    if (ref.job, ref.output) == (connection.job, connection.output):
        return tail
    return f"{ref.job}·{tail}" if ref.output == connection.output else f"{ref.job}.{ref.output}·{tail}"


def slot_label(group: InputGroup, connection: Connection, slot_name: str, compatible: bool, width: int,
               loaded: Connection | None) -> Text:
    """``+ blob*  ● J5·blob.F  was blob.F``: compatibility, required, edited, binding, old value."""
    slot = group.slot(slot_name)
    binding = connection.binding(slot_name)
    required = slot is not None and slot.required
    before = loaded.binding(slot_name) if loaded is not None else None
    # a new connection is marked on its own row, not slot by slot
    edited = loaded is not None and (binding.ref if binding else None) != (before.ref if before else None)
    text = Text()
    text.append("+ " if compatible else "  ", style=style("compatible"))
    text.append(slot_name, style=style("compatible") if compatible else "")
    text.append("*" if required else " ", style=style("error") if required and binding is None else "bold")
    text.append(" " * (width - len(slot_name) + 1))
    text.append("● " if edited else "  ", style=style("pending"))
    if binding is None:
        text.append("(empty)", style=style("error") if required else "dim")
    else:
        text.append(binding_text(connection, binding.ref), style="bold" if edited else "")
    if edited:
        was = binding_text(loaded, before.ref) if before is not None else "(empty)"
        text.append(f"  was {was}", style="dim")
    return text


class InputsTree(PaneTree[object]):
    def __init__(self, **kwargs) -> None:
        super().__init__("inputs", **kwargs)
        self.collapsed: set[object] = set()  # rows the user folded (h); kept across redraws
        self.joined: JoinedRows = lambda group, index, connection: None

    @on(Tree.NodeCollapsed)
    def _folded(self, event: Tree.NodeCollapsed) -> None:
        self.collapsed.add(event.node.data)

    @on(Tree.NodeExpanded)
    def _unfolded(self, event: Tree.NodeExpanded) -> None:
        self.collapsed.discard(event.node.data)

    def show(self, session: EditSession | None, compatible: set[str], compatible_inputs: set[str],
             joined: JoinedRows | None = None) -> None:
        """Rebuild the rows (a handful per input), keeping the cursor on the same row; ``joined``
        gives a connection's rows after the join on uid, once read."""
        self.joined = joined or (lambda group, index, connection: None)
        previous = self.cursor_node.data if self.cursor_node is not None else None
        self.clear()
        self.border_title = self.title(session)
        if session is None:
            self.root.add_leaf(Text("no target: highlight a job and press t", style="dim"))
            return
        if not session.inputs:
            self.root.add_leaf(Text(f"{session.target.uid} has no inputs", style="dim"))
        rows: dict[object, object] = {}
        loaded = {g.name: g.connections for g in session.loaded}
        with self.bulk():  # one invalidation for the whole rebuild, not one per row
            for group in session.inputs:
                row = InputRow(group.name)
                node = self.root.add(input_label(group, group.name in compatible_inputs), data=row,
                                     expand=row not in self.collapsed)
                rows[InputRow(group.name)] = node
                if not group.connections:
                    node.add_leaf(Text("(no connection: yank an output group and press P)", style="dim"),
                                  data=InputRow(group.name))
                before = loaded.get(group.name, ())
                for index, connection in enumerate(group.connections):
                    self._add_connection(node, group, index, connection, compatible, rows,
                                         before[index] if index < len(before) else None)
        target = rows.get(previous) if previous is not None else None
        if target is not None:
            self.move_cursor(target)
        elif self.root.children:
            self.move_cursor_to_line(0)

    @staticmethod
    def title(session: EditSession | None) -> str:
        if session is None:
            return "3 Inputs (no target)"
        job = session.target
        draft = "" if session.appliable else f" · DRAFT ({job.status}: not appliable live)"
        errors = sum(issue.severity == "error" for issue in session.validate())
        problems = f" · ⚠ {errors} problem{'s' if errors != 1 else ''} (w lists them)" if errors else ""
        return f"3 Inputs of target {job.uid}{problems}{draft} {job.label}"  # problems first: a long title is cut

    def _add_connection(self, parent, group: InputGroup, index: int, connection: Connection,
                        compatible: set[str], rows: dict, loaded: Connection | None) -> None:
        """``loaded`` is the connection at this index as the job document has it (None: a new one)."""
        if loaded is not None and (loaded.job, loaded.output) != (connection.job, connection.output):
            loaded = None
        label = self.connection_label(group, index, connection, new=loaded is None)
        row = ConnectionRow(group.name, index)
        node = parent.add(label, data=row, expand=row not in self.collapsed)
        rows[ConnectionRow(group.name, index)] = node
        names = [s.name for s in group.slots]
        names += [b.slot for b in connection.slot_bindings if b.slot not in names]
        width = max(map(len, names), default=0)
        for name in names:
            address = SlotAddress(group.name, index, name)
            label = slot_label(group, connection, name, address.local in compatible, width, loaded)
            leaf = node.add_leaf(label, data=SlotRow(address))
            rows[SlotRow(address)] = leaf
        for binding in connection.passthrough:
            text = Text("  ↳ ", style="dim")
            text.append(binding_text(connection, binding.ref), style="dim")
            text.append(" passthrough", style="italic dim")
            row = PassthroughRow(group.name, index, binding)
            rows[row] = node.add_leaf(text, data=row)

    def connection_label(self, group: InputGroup, index: int, connection: Connection, new: bool) -> Text:
        """``particles.0 ← J9.particles ● new · 1,000 rows`` (the rows once the join is read)."""
        label = Text(f"{group.name}.{index} ← {connection.job}.{connection.output}", style="bold")
        if new:
            label.append(" ● new", style=style("pending"))
        preview = self.joined(group, index, connection)
        if preview is not None:
            label.append(f" · {preview.rows_text}", style=style("error") if preview.empty else "dim")
        return label

    def relabel_connections(self, session: EditSession) -> None:
        """Show the rows of joins read since the last rebuild, on the connection rows alone: the
        tree is not rebuilt (nor the screen laid out again) for a count."""
        loaded = {g.name: g.connections for g in session.loaded}
        groups = {g.name: g for g in session.inputs}
        for node in self._all_nodes():
            row = node.data
            if not isinstance(row, ConnectionRow) or row.input not in groups:
                continue
            group = groups[row.input]
            if row.index >= len(group.connections):
                continue
            connection = group.connections[row.index]
            before = loaded.get(row.input, ())
            old = before[row.index] if row.index < len(before) else None
            new = old is None or (old.job, old.output) != (connection.job, connection.output)
            label = self.connection_label(group, row.index, connection, new)
            if label.plain != node.label.plain:
                node.set_label(label)

    @property
    def current_row(self) -> object | None:
        node = self.cursor_node
        return node.data if node is not None else None

    @property
    def current_slot(self) -> SlotAddress | None:
        row = self.current_row
        return row.address if isinstance(row, SlotRow) else None

    @property
    def current_input(self) -> str | None:
        """The input the cursor is in, on any of its rows."""
        row = self.current_row
        if isinstance(row, SlotRow):
            return row.address.input
        return row.input if isinstance(row, (InputRow, ConnectionRow, PassthroughRow)) else None

    @property
    def current_connection_row(self) -> int | None:
        """The connection index when the cursor is on a connection's own row."""
        row = self.current_row
        return row.index if isinstance(row, ConnectionRow) else None

    def go_to_slot(self, address: SlotAddress) -> bool:
        for node in self._all_nodes():
            if node.data == SlotRow(address):
                self.move_cursor(node)
                return True
        return False

    def _all_nodes(self):
        stack = list(self.root.children)
        while stack:
            node = stack.pop(0)
            yield node
            stack[0:0] = list(node.children)

    @on(Tree.NodeHighlighted)
    def _announce(self, event: Tree.NodeHighlighted) -> None:
        event.stop()
        row = event.node.data
        self.post_message(SlotHighlighted(row.address if isinstance(row, SlotRow) else None))
