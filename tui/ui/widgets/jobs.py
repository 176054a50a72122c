"""Jobs pane: the project's jobs as a lineage tree (or grouped by workspace), with a filter.

The list is virtual: it draws only the rows on screen from rows the core computes once per
change of the project (:mod:`tui.core.joblist`), so a key press costs the same at 50,000 jobs as
at 50."""

from __future__ import annotations

import threading

from rich.segment import Segment
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.message import Message
from textual.widgets import Input

from ...core.joblist import MAX_DEPTH, JobRow, JobRows, JobSearch, flat_rows, lineage_rows, workspace_rows
from ...core.model import Job
from ...core.project import Project
from ..commands import pane_bindings
from ..failures import ReportsWorkerFailures, background
from ..messages import FilterDone, JobHighlighted
from ..marks import style
from .pane import SizedByScreen

# A mark that reads without colour (NO_COLOR) and a style for terminals that have it.
STATUS_MARK = {  # status → (mark, meaning: tui.ui.marks)
    "building": ("● building", None),
    "completed": ("✓", "ok"),
    "failed": ("✗ failed", "error"),
    "killed": ("✗ killed", "killed"),
    "running": ("▶ running", "busy"),
    "started": ("▶ started", "busy"),
    "queued": ("… queued", "queued"),
    "launched": ("… launched", "queued"),
    "waiting": ("… waiting", "queued"),
}


# The depth indented is at most MAX_DEPTH, and less in a narrow pane, so that LABEL_ROOM columns
# are left for the label; deeper rows are shown beside their parent, naming it.
MIN_DEPTH = 3
LABEL_ROOM = 16  # "J4998 ←J4997 ✓ " and the toggle
GUIDE = 2  # columns per level


def depth_cap(width: int) -> int:
    """The deepest level indented in a pane ``width`` columns wide (MAX_DEPTH before any layout)."""
    if width <= 0:
        return MAX_DEPTH
    return max(MIN_DEPTH, min(MAX_DEPTH, (width - LABEL_ROOM) // GUIDE + 1))


def job_label(job: Job, repeat: bool = False, parent: str | None = None) -> Text:
    """``J12 ● building Local Refinement``; ``parent`` is named when the row is not indented
    under it (past the pane's depth cap)."""
    text = Text()
    text.append(job.uid, style="bold")
    text.append(" ")
    if parent is not None:
        text.append(f"←{parent} ", style="dim")
    if job.broken:
        text.append(f"broken: {job.error}", style=style("error"))
        return text
    # Marks go before the title, so a narrow pane cuts the title, not the status.
    if repeat:
        text.append("↺ ", style="dim")
    mark, meaning = STATUS_MARK.get(job.status, (job.status or "?", None))
    if job.status == "building":
        text.append(mark, style="bold reverse")  # the same with or without colour
    else:
        text.append(mark, style=style(meaning) if meaning else "dim")
    text.append(" ")
    text.append(job.label, style="dim italic" if repeat else "")
    return text


class JobList(SizedByScreen, ScrollView, can_focus=True):
    """The rows of a :class:`JobRows`, a screenful at a time, with a cursor."""

    BINDINGS = pane_bindings() + [
        Binding("down", "cursor_down", show=False),
        Binding("up", "cursor_up", show=False),
        Binding("home", "scroll_home", show=False),
        Binding("end", "scroll_end", show=False),
        Binding("pagedown", "page_down", show=False),
        Binding("pageup", "page_up", show=False),
        Binding("enter,space", "toggle", "Fold", show=False),
        Binding("left", "collapse", show=False),
        Binding("right", "expand", show=False),
    ]
    COMPONENT_CLASSES = {"job-list--cursor", "job-list--guides"}
    ANNOUNCE = True  # post JobHighlighted as the cursor moves
    DEFAULT_CSS = """
    JobList {
        background: $surface;
        overflow-x: hidden;  /* labels are cut at the edge, never scrolled sideways */
        & > .job-list--guides { color: $surface-lighten-2; }
        & > .job-list--cursor {
            text-style: $block-cursor-blurred-text-style;
            background: $block-cursor-blurred-background;
        }
        &:focus {
            background-tint: $foreground 5%;
            & > .job-list--cursor {
                color: $block-cursor-foreground;
                background: $block-cursor-background;
                text-style: $block-cursor-text-style;
            }
        }
        &:nocolor > .job-list--cursor { text-style: reverse; }
    }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.project: Project | None = None
        self.jobs: dict[str, Job] = {}
        self.rows = JobRows([])
        self.cursor = 0  # a line of the visible rows
        self.cap = MAX_DEPTH  # the depth rows are flattened at, from the pane's width
        self.by_workspace = False
        self.folded: set[str] = set()  # uids (and workspace headings) folded, kept across rebuilds
        # Rows of each view already made, by (grouped, depth cap, number of jobs): while a project
        # is read, rows made for fewer jobs must never be shown again.
        self._views: dict[tuple[bool, int, int], JobRows] = {}
        self._lines: dict[tuple, Strip] = {}

    # --- what is shown ---------------------------------------------------------------------

    def reset(self) -> None:
        self.project, self.jobs, self.rows, self.cursor, self._views = None, {}, JobRows([]), 0, {}
        self.folded = set()
        self.cap = depth_cap(self.size.width)
        self._changed()

    def populate(self, project: Project, by_workspace: bool) -> None:
        """Show ``project``'s jobs as a lineage tree or by workspace (rows computed once per view)."""
        if project is not self.project:
            self._views = {}
        self.project, self.jobs, self.by_workspace = project, project.jobs, by_workspace
        key = (by_workspace, 0 if by_workspace else self.cap, len(self.jobs))
        if key not in self._views:
            self._views[key] = workspace_rows(self.jobs, project.workspaces) if by_workspace else lineage_rows(self.jobs, self.cap)
        self.show(self._views[key])

    def show_lineage(self, project: Project, rows: JobRows, cap: int) -> None:
        """Rows computed elsewhere (the reading worker) for ``project``'s jobs so far."""
        if project is not self.project:
            self._views = {}
        self.project, self.jobs = project, project.jobs
        if cap != self.cap:  # the pane was resized meanwhile
            self.populate(project, self.by_workspace)
            return
        self._views[(False, cap, len(project.jobs))] = rows
        if not self.by_workspace:
            self.show(rows)

    def show(self, rows: JobRows) -> None:
        current = self.current_uid
        self.rows = rows
        rows.set_folded({i for key in self.folded if (i := self._key_index(key)) is not None})
        self._changed()
        if current is None or not self.go_to(current, announce=False):
            self.cursor = min(self.cursor, max(0, len(rows) - 1))

    def _key_index(self, key: str) -> int | None:
        index = self.rows.first_row.get(key)
        if index is None and self.by_workspace:
            index = next((i for i, r in enumerate(self.rows.rows) if r.uid is None and r.heading == key), None)
        return index

    def _changed(self) -> None:
        self._lines = {}
        self.virtual_size = Size(self.size.width, len(self.rows))
        self.refresh()

    # --- the cursor --------------------------------------------------------------------------

    @property
    def current_uid(self) -> str | None:
        if not len(self.rows):
            return None
        return self.rows.row(self.cursor).uid

    @property
    def current_row(self) -> JobRow | None:
        return self.rows.row(self.cursor) if len(self.rows) else None

    def move_to_line(self, line: int, announce: bool = True) -> None:
        if not len(self.rows):
            return
        line = max(0, min(len(self.rows) - 1, line))
        previous, self.cursor = self.cursor, line
        self.refresh_line(previous)
        self.refresh_line(line)
        self.scroll_to_region(Region(0, line, 1, 1), animate=False, force=True, immediate=True)
        if announce and self.ANNOUNCE:
            self.post_message(JobHighlighted(self.current_uid))

    def go_to(self, uid: str, announce: bool = True) -> bool:
        """Put the cursor on ``uid``'s first row, unfolding what hides it."""
        index = self.rows.first_row.get(uid)
        if index is None:
            return False
        if self.rows.visible is not None:
            self.rows.unfold_to(index)
            self.folded = {self.rows.key(i) for i in self.rows.folded}
            self._changed()
        self.move_to_line(self.rows.line_of(index), announce)
        return True

    def action_cursor_down(self) -> None:
        self.move_to_line(self.cursor + 1)

    def action_cursor_up(self) -> None:
        self.move_to_line(self.cursor - 1)

    def action_scroll_home(self) -> None:
        self.move_to_line(0)

    def action_scroll_end(self) -> None:
        self.move_to_line(len(self.rows) - 1)

    def action_page_down(self) -> None:
        self.move_to_line(self.cursor + max(1, self.size.height - 1))

    def action_page_up(self) -> None:
        self.move_to_line(self.cursor - max(1, self.size.height - 1))

    # --- folding -----------------------------------------------------------------------------

    def _fold(self, folded: bool) -> bool:
        if not len(self.rows):
            return False
        index = self.rows.index(self.cursor)
        if not self.rows.foldable(index) or self.rows.is_folded(index) == folded:
            return False
        (self.folded.add if folded else self.folded.discard)(self.rows.key(index))
        self.rows.fold(index, folded)
        self._changed()
        self.move_to_line(self.rows.line_of(index), announce=False)
        return True

    def action_toggle(self) -> None:
        if len(self.rows):
            self._fold(not self.rows.is_folded(self.rows.index(self.cursor)))

    def action_collapse(self) -> None:
        """Fold the row's subtree, or (already folded, or a leaf) go to the row it hangs under."""
        if self._fold(True) or not len(self.rows):
            return
        parent = self.rows.parent_index(self.rows.index(self.cursor))
        if parent is not None:
            self.move_to_line(self.rows.line_of(parent))

    def action_expand(self) -> None:
        """Unfold the row's subtree, or (open already) go to its first child."""
        if self._fold(False) or not len(self.rows):
            return
        if self.rows.foldable(self.rows.index(self.cursor)):
            self.move_to_line(self.cursor + 1)

    # --- drawing -----------------------------------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        """A width that allows another depth: the rows again, on the same job."""
        self._lines = {}
        self.virtual_size = Size(event.size.width, len(self.rows))
        cap = depth_cap(event.size.width)
        if cap != self.cap and self.ANNOUNCE:  # the lineage list, not a list of matches
            self.cap = cap
            if self.project is not None and not self.by_workspace:
                self.populate(self.project, False)

    def on_click(self, event: events.Click) -> None:
        line = event.y + self.scroll_offset.y
        if 0 <= line < len(self.rows):
            if line == self.cursor and event.chain > 1:
                self.action_toggle()
            self.move_to_line(line)

    def render_line(self, y: int) -> Strip:
        line = y + self.scroll_offset.y
        width = self.size.width
        if line >= len(self.rows):
            return Strip.blank(width, self.rich_style)
        cursor = line == self.cursor
        key = (line, width, cursor, self.has_focus)
        strip = self._lines.get(key)
        if strip is None:
            if len(self._lines) > 4 * max(self.size.height, 10):
                self._lines = {}
            strip = self._lines[key] = self._render_row(line, width, cursor)
        return strip

    def _render_row(self, line: int, width: int, cursor: bool) -> Strip:
        text = self.row_text(self.rows.index(line))
        base = self.rich_style
        if cursor:
            base = base + self.get_component_rich_style("job-list--cursor")
        text.stylize_before(base)
        segments = [Segment(s.text, s.style) for s in text.render(self.app.console)]
        return Strip(segments).crop_extend(0, width, base).simplify()

    def row_text(self, index: int) -> Text:
        """Row ``index`` as drawn: guides, fold mark and label (a job's or a workspace's)."""
        row = self.rows.rows[index]
        text = Text(no_wrap=True, overflow="crop", end="")
        text.append(row.guide, style=self.get_component_rich_style("job-list--guides", partial=True))
        if self.rows.foldable(index):
            text.append("▶ " if self.rows.is_folded(index) else "▼ ")
        if row.uid is None:
            text.append(row.heading, style="bold")
        else:
            job = self.jobs.get(row.uid)
            text.append_text(job_label(job, row.repeat, row.named_parent) if job else Text(row.uid))
        return text

    def visible_texts(self) -> list[str]:
        """Every row the list shows now (scrolled into view or not), as plain text."""
        return [self.row_text(self.rows.index(line)).plain for line in range(len(self.rows))]


class MatchList(JobList):
    """The filter's matches: enter (or a double click) chooses one."""

    ANNOUNCE = False

    class Chosen(Message):
        def __init__(self, uid: str | None) -> None:
            super().__init__()
            self.uid = uid

    def action_toggle(self) -> None:
        self.post_message(self.Chosen(self.current_uid))


class FilterInput(SizedByScreen, Input):
    """The filter line: one row, as wide as the pane (styles/app.tcss); Input gives itself a new
    virtual size on every change."""


class JobsPane(ReportsWorkerFailures, Vertical):
    """The tree, plus a filter line and its list of matches shown while filtering."""

    class Found(Message):
        """What a query matches, from the search worker."""

        def __init__(self, query: str, found: list[str]) -> None:
            super().__init__()
            self.query, self.found = query, found

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.project: Project | None = None
        self._search: tuple[tuple[int, int], JobSearch] | None = None  # (which jobs, how many): the search
        self._searching = threading.Lock()  # a JobSearch remembers its last query: one search at a time

    def compose(self) -> ComposeResult:
        yield FilterInput(placeholder="filter: uid, title or type", id="job-filter")
        yield MatchList(id="job-matches")
        yield JobList(id="job-tree")

    @property
    def tree(self) -> JobList:
        return self.query_one("#job-tree", JobList)  # by id: the list of matches is a JobList too

    def start_filter(self) -> None:
        box = self.query_one("#job-filter", Input)
        self.add_class("filtering")
        box.value = ""
        self._show_matches([])
        self.screen.set_focus(box)  # at once, not after queued keys: typed text must land here

    def matches(self, query: str) -> list[str]:
        search = self._job_search()
        if search is None:
            return []
        with self._searching:
            return search.find(query)

    def _job_search(self) -> JobSearch | None:
        """The search over the jobs read so far, made on the UI thread (which adds jobs while a
        project is read): once per project, and per batch while reading."""
        if self.project is None:
            return None
        jobs = self.project.jobs
        key = (id(jobs), len(jobs))
        if self._search is None or self._search[0] != key:
            self._search = (key, JobSearch(jobs))
        return self._search[1]

    def _show_matches(self, found: list[str]) -> None:
        """Every match, in a virtual list: drawing them costs the same in 50,000 jobs as in 50."""
        options = self.query_one("#job-matches", MatchList)
        if self.project is None:
            return
        options.project, options.jobs = self.project, self.project.jobs
        options.show(flat_rows(found))
        options.move_to_line(0)
        options.border_title = f"{len(found)} match{'es' if len(found) != 1 else ''}"

    @on(Input.Changed, "#job-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        search = self._job_search()
        if search is not None and event.value:
            self._find(search, event.value)
        else:
            self._show_matches([])

    @background(exclusive=True, group="filter")
    def _find(self, search: JobSearch, query: str) -> None:
        """Off the UI thread: among 50,000 jobs a search takes milliseconds, and the keys typed
        meanwhile wait for none of them (a search overtaken by the next key is not shown)."""
        with self._searching:
            found = search.find(query)
        self.post_message(self.Found(query, found))

    @on(Found)
    def _found(self, event: Found) -> None:
        if self.filtering and self.query_one("#job-filter", Input).value == event.query:
            self._show_matches(event.found)

    @on(Input.Submitted, "#job-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        found = self.matches(event.value)
        self._finish(found[0] if found else None, found)

    @on(MatchList.Chosen)
    def _match_chosen(self, event: MatchList.Chosen) -> None:
        event.stop()
        self._finish(event.uid, self.matches(self.query_one("#job-filter", Input).value))

    def cancel_filter(self) -> None:
        self._finish(None, [])

    def _finish(self, uid: str | None, found: list[str]) -> None:
        # Keys typed right after enter may already have moved the focus elsewhere: keep that.
        focused = self.app.focused
        if focused is None or focused in (self.query_one("#job-filter"), self.query_one("#job-matches")):
            self.screen.set_focus(self.tree)
        self.remove_class("filtering")
        self.post_message(FilterDone(uid, found))

    @property
    def filtering(self) -> bool:
        return self.has_class("filtering")
