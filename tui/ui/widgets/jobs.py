"""Jobs pane: the project's jobs as a lineage tree (or grouped by workspace), with a filter."""

from __future__ import annotations

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, OptionList, Tree
from textual.widgets.option_list import Option

from ...core.model import Job
from ...core.project import Project, lineage_order
from ..messages import FilterDone, JobHighlighted
from ..marks import style
from .pane import PaneTree

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


# Deeper lineage is shown flat, each row naming its parent: a chain of thousands of jobs would
# otherwise push every label off the pane (2 columns of guides per level). The depth shown is at
# most MAX_DEPTH, and less in a narrow pane, so that LABEL_ROOM columns are left for the label.
MAX_DEPTH = 8
MIN_DEPTH = 3
LABEL_ROOM = 16  # "J4998 ←J4997 ✓ " and the toggle


def depth_cap(width: int, guide_depth: int) -> int:
    """The deepest level shown in a pane ``width`` columns wide (MAX_DEPTH before any layout)."""
    if width <= 0:
        return MAX_DEPTH
    return max(MIN_DEPTH, min(MAX_DEPTH, (width - LABEL_ROOM) // guide_depth + 1))


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


def job_matches(job: Job, query: str) -> bool:
    query = query.lower()
    return any(query in field.lower() for field in (job.uid, job.title, job.type))


class JobTree(PaneTree[str]):
    """Each job sits under its first parent and appears again, marked as a repeat, under each
    other parent. Jobs can be added as they are read, parents first."""

    def __init__(self, **kwargs) -> None:
        super().__init__("jobs", **kwargs)
        self.first_node: dict[str, object] = {}
        self.depth: dict[str, int] = {}  # of each job's first row (1 = top level)
        self.missing_parents: set[str] = set()  # parents not shown yet when a child was added
        self.cap = MAX_DEPTH  # the depth rows are flattened at, set from the width when filled
        self.shown: tuple[Project, bool] | None = None  # what populate last showed

    def reset(self) -> None:
        self.clear()
        self.first_node = {}
        self.depth = {}
        self.missing_parents = set()
        self.cap = depth_cap(self.size.width, self.guide_depth)

    def populate(self, project: Project, by_workspace: bool) -> None:
        self.reset()
        self.shown = (project, by_workspace)
        if by_workspace:
            with self.bulk():
                self._populate_workspaces(project)
        else:
            self.add_jobs(lineage_order(project.jobs))

    def add_jobs(self, jobs: list[Job]) -> None:
        with self.bulk():
            for job in jobs:
                self._add(job)

    def needs_rebuild(self, project: Project) -> bool:
        """True when a job arrived before one of its parents (uid order is not lineage order)."""
        return any(uid in project.jobs for uid in self.missing_parents)

    def _add(self, job: Job) -> None:
        shown = [p for p in dict.fromkeys(job.parents) if p in self.first_node and p != job.uid]
        self.missing_parents.update(p for p in job.parents if p not in self.first_node and p != job.uid)
        if not shown:
            self.first_node[job.uid] = self.root.add_leaf(job_label(job), data=job.uid)
            self.depth[job.uid] = 1
            return
        self.first_node[job.uid], self.depth[job.uid] = self._add_under(shown[0], job, repeat=False)
        for parent in shown[1:]:
            self._add_under(parent, job, repeat=True)

    def _add_under(self, parent: str, job: Job, repeat: bool):
        """A row for ``job`` under ``parent``'s first row, or beside it (naming it) at MAX_DEPTH."""
        node, depth = self.first_node[parent], self.depth[parent]
        if depth >= self.cap:
            return node.parent.add_leaf(job_label(job, repeat, parent=parent), data=job.uid), depth
        return self._open(node).add_leaf(job_label(job, repeat), data=job.uid), depth + 1

    @staticmethod
    def _open(node):
        if not node.allow_expand:
            node.allow_expand = True
            node.expand()
        return node

    def _populate_workspaces(self, project: Project) -> None:
        """Workspaces at the top, each with its jobs in uid order."""
        groups: dict[str, list[Job]] = {}
        for job in project.jobs.values():
            for workspace in job.workspaces or ("",):
                groups.setdefault(workspace, []).append(job)
        for workspace in sorted(groups, key=lambda w: (w == "", int(w[1:]) if w[1:].isdigit() else 0, w)):
            title = project.workspaces.get(workspace)
            label = f"{workspace} {title.title}" if title else (workspace or "(no workspace)")
            node = self.root.add(Text(label, style="bold"), data=None, expand=True)
            for job in groups[workspace]:
                leaf = node.add_leaf(job_label(job), data=job.uid)
                self.first_node.setdefault(job.uid, leaf)

    def go_to(self, uid: str) -> bool:
        node = self.first_node.get(uid)
        if node is None:
            return False
        parent = node.parent
        while parent is not None:
            if not parent.is_expanded:  # expanding rebuilds the tree's lines: only when needed
                parent.expand()
            parent = parent.parent
        self.move_cursor(node)
        return True

    def on_resize(self, event: events.Resize) -> None:
        """A width that allows another depth: show the tree again, on the same job."""
        # filled batch by batch as the project was read, the tree shows the pane's project as a lineage
        shown = self.shown or (getattr(self.parent, "project", None), False)
        if shown[0] is not None and self.first_node and depth_cap(event.size.width, self.guide_depth) != self.cap:
            current = self.current_uid
            self.populate(*shown)
            if current:
                self.go_to(current)

    @property
    def current_uid(self) -> str | None:
        node = self.cursor_node
        return node.data if node is not None else None

    @on(Tree.NodeHighlighted)
    def _announce(self, event: Tree.NodeHighlighted) -> None:
        event.stop()
        self.post_message(JobHighlighted(event.node.data))


class JobsPane(Vertical):
    """The tree, plus a filter line and its list of matches shown while filtering."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.project: Project | None = None

    def compose(self) -> ComposeResult:
        yield Input(placeholder="filter: uid, title or type", id="job-filter")
        yield OptionList(id="job-matches")
        yield JobTree(id="job-tree")

    @property
    def tree(self) -> JobTree:
        return self.query_one(JobTree)

    def start_filter(self) -> None:
        box = self.query_one("#job-filter", Input)
        self.add_class("filtering")
        box.value = ""
        self._show_matches("")
        self.screen.set_focus(box)  # at once, not after queued keys: typed text must land here

    def matches(self, query: str) -> list[str]:
        if self.project is None or not query:
            return []
        return [uid for uid, job in self.project.jobs.items() if job_matches(job, query)]

    def _show_matches(self, query: str) -> None:
        options = self.query_one("#job-matches", OptionList)
        options.clear_options()
        if self.project is None:
            return
        found = self.matches(query)
        options.add_options([Option(job_label(self.project.jobs[u]), id=u) for u in found[:500]])
        options.border_title = f"{len(found)} match{'es' if len(found) != 1 else ''}"

    @on(Input.Changed, "#job-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._show_matches(event.value)

    @on(Input.Submitted, "#job-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        found = self.matches(event.value)
        self._finish(found[0] if found else None, found)

    @on(OptionList.OptionSelected, "#job-matches")
    def _match_chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._finish(event.option.id, self.matches(self.query_one("#job-filter", Input).value))

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
