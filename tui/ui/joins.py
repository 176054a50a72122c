"""The join preview in the UI: after every edit and target change the target's inputs are
joined on uid in a worker (tui.core.preview, on cached uid columns), and the result comes back
as a JoinPreviewed message: the inputs pane shows each connection's rows, the status bar what
the put keeps, and a put that leaves no row is taken back with the reason (``:put!`` keeps it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..core.model import Connection, InputGroup
from ..core.refs import SlotAddress
from ..core.session import EditSession
from .messages import JoinPreviewed

if TYPE_CHECKING:  # numpy and the export code: imported when a preview first runs
    from ..core.preview import ConnectionPreview


@dataclass(frozen=True)
class PutCheck:
    """A put waiting for its join: refused (taken back) if it leaves no row, unless forced."""

    address: SlotAddress
    state: tuple[InputGroup, ...]  # the session's inputs right after the put
    message: str  # what the status bar said for it
    forced: bool = False


def connection_key(group: InputGroup, index: int, connection: Connection) -> tuple:
    """Row counts are kept per connection *content*, so an edit never shows a stale count."""
    return group.name, index, connection


class JoinPreviews:
    def __init__(self, screen) -> None:
        self.screen = screen  # the MainScreen: runs the workers, receives JoinPreviewed
        self.rows: dict[tuple, ConnectionPreview] = {}

    def start(self, session: EditSession | None, put: PutCheck | None = None) -> None:
        """Join the session's inputs as they are now (a snapshot: later edits start their own)."""
        if session is None:
            return
        project, uid, groups = session.project, session.target.uid, session.inputs

        def job() -> None:
            from ..core.preview import preview_input  # numpy and the export code: when first needed

            previews = [p for group in groups for p in preview_input(project, group, uid)]
            self.screen.post_message(JoinPreviewed(uid, groups, tuple(previews), put))

        self.screen.run_worker(job, thread=True, group="preview", exit_on_error=False)

    def received(self, event: JoinPreviewed) -> None:
        screen = self.screen
        bench = screen.bench
        if len(self.rows) > 512:  # counts of states long gone
            self.rows.clear()
        for group in event.state:
            for preview, connection in zip((p for p in event.previews if p.input == group.name), group.connections):
                self.rows[connection_key(group, preview.index, connection)] = preview
        put = event.put
        session = bench.session
        if session is None or session.target.uid != event.target or session.inputs is not event.state:
            return  # the inputs changed since: their own join is on its way
        if put is None:
            return screen.inputs.relabel_connections(session)
        found = next((p for p in event.previews if (p.input, p.index) == (put.address.input, put.address.connection)), None)
        if found is not None and found.empty and not put.forced and bench.retract(event.target, put.state):
            screen.after_edit(None)
            hint = f"; {found.match_hint}" if found.match_hint else ""  # e.g. --match src_uid would keep rows
            screen.say(f"put refused: {found.empty}{hint}; :put! {put.address.local} keeps it anyway", error=True)
            return
        screen.inputs.relabel_connections(session)
        if found is not None and screen.status.message == put.message:  # still the put's message
            forced = " (forced: the join on uid keeps no row)" if found.empty else ""
            screen.say(f"{put.message} · {found.keeps_text}{forced}", error=bool(found.empty))

    def row_text(self, group: InputGroup, index: int, connection: Connection) -> ConnectionPreview | None:
        return self.rows.get(connection_key(group, index, connection))
