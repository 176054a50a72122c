"""The command table (tui.core.commands) turned into Textual: key bindings with ids for the
user's keymap, and the command palette (ctrl+p). Dispatch is the main screen's."""

from __future__ import annotations

import asyncio
from functools import partial

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider

from ..core.commands import BY_ID, COMMANDS, LINE_COMMANDS, CommandSpec
from ..core.completion import job_uid_prefix, matching_jobs

KEY_NAMES = {"slash": "/", "colon": ":", "question_mark": "?", "left_square_bracket": "[",
             "right_square_bracket": "]", "escape": "esc"}


def screen_bindings() -> list[Binding]:
    """The main screen's keys: each runs its command through ``action_run``."""
    return [
        Binding(s.keys, f"run({s.id!r})", s.description, show=s.show, key_display=s.key_display, id=s.id)
        for s in COMMANDS
        if s.keys and s.pane_action is None
    ]


def pane_bindings() -> list[Binding]:
    """Movement keys every pane's tree answers to."""
    return [Binding(s.keys, s.pane_action, s.description, show=False, id=s.id) for s in COMMANDS if s.pane_action]


# The panes' movements as a list's (OptionList) actions: dialogs move with the same keys, and a
# user's keymap entry for cursor-down (say) moves them too.
LIST_ACTIONS = {"cursor_down": "cursor_down", "cursor_up": "cursor_up", "scroll_home": "first", "scroll_end": "last"}


def list_bindings() -> list[Binding]:
    """j/k/g/G (as the keymap has them) for every list in a dialog."""
    return [Binding(s.keys, LIST_ACTIONS[s.pane_action], s.description, show=False, id=s.id)
            for s in COMMANDS if s.pane_action in LIST_ACTIONS]


def scroll_bindings() -> list[Binding]:
    """The same keys for a scrolled text (help): down, up, top, bottom."""
    actions = {"cursor_down": "scroll_down", "cursor_up": "scroll_up", "scroll_home": "scroll_home",
               "scroll_end": "scroll_end"}
    return [Binding(s.keys, actions[s.pane_action], s.description, show=False, id=s.id)
            for s in COMMANDS if s.pane_action in actions]


def current_keys(spec: CommandSpec, keymap: dict[str, str]) -> str:
    """The keys a binding answers to now: the user's keymap entry replaces the default."""
    keys = keymap.get(spec.id, spec.keys)
    return ", ".join(KEY_NAMES.get(k.strip(), k.strip()) for k in keys.split(","))


class CsRebindCommands(Provider):
    """The palette offers the : line's commands (those without arguments run at once, the others
    open the : line with the command typed), the jobs (``J5``, ``5`` or words of a title → go to
    the job) and the results of the job named in full (``J5.part`` → go to J5.particles.blob in
    the outputs pane).

    Cheap on 50,000 jobs: a job number is matched on the uids alone, a title by substring on a
    list built once per palette; only the one job whose uid is typed has its outputs read."""

    JOBS_SHOWN = 20
    RESULTS_SHOWN = 40

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._titles: list[tuple[str, str]] = []  # (uid, "j5 extract from micrographs extract_micrographs_multi")

    def _run(self, spec: CommandSpec) -> None:
        screen = self.app.main_screen
        if spec.min_args == 0:
            screen.run_command(spec.name)
        else:
            screen.command_command_line(spec.name + " ")

    async def discover(self) -> Hits:
        for spec in LINE_COMMANDS:
            yield DiscoveryHit(spec.usage, partial(self._run, spec), help=spec.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for spec in LINE_COMMANDS:
            score = matcher.match(f"{spec.name} {spec.help}")
            if score > 0:
                yield Hit(score, matcher.highlight(spec.usage), partial(self._run, spec), help=spec.help)
        project = self.app.main_screen.project
        if project is None:
            return
        typed = query.strip()
        job_part, dot, rest = typed.partition(".")
        prefix = job_uid_prefix(job_part)
        if prefix is not None and prefix != "J":  # a job number: J5, j5 or 5
            if not dot:
                for rank, uid in enumerate(matching_jobs(project, prefix, self.JOBS_SHOWN)):
                    yield self._job_hit(project.jobs[uid], matcher, 1.0 if uid == prefix else 0.9 - rank / 1000)
            job = project.jobs.get(prefix)
            if job is not None:
                for hit in self._result_hits(job, rest, matcher, exact=bool(dot)):
                    yield hit
        elif len(typed) >= 2:
            for rank, job in enumerate(self._jobs_titled(project, typed.lower())):
                yield self._job_hit(job, matcher, 0.7 - rank / 1000)

    def _job_hit(self, job, matcher, score: float) -> Hit:
        shown = f"{job.uid} {job.label}"
        status = f" · {job.status}" if job.status else ""
        return Hit(score, matcher.highlight(shown), partial(self._go_to_job, job.uid), text=shown,
                   help=f"go to the job · {job.type}{status}")

    def _result_hits(self, job, rest: str, matcher, exact: bool) -> list[Hit]:
        """The results of ``job`` whose ``OUTPUT.RESULT`` begins with ``rest`` (all of them when
        nothing follows the dot), in the job's order."""
        hits: list[Hit] = []
        for group in job.outputs:
            for result in group.results:
                local = f"{group.name}.{result.name}"
                if exact and not local.startswith(rest):
                    continue
                shown = f"{job.uid}.{local}"
                score = (0.95 if exact else 0.8) - len(hits) / 1000
                hits.append(Hit(score, matcher.highlight(shown), partial(self._go_to_result, job.uid, group.name,
                                                                          result.name),
                                text=shown, help=f"go to it in the outputs pane · {result.dtype}"))
                if len(hits) >= self.RESULTS_SHOWN:
                    return hits
        return hits

    def _jobs_titled(self, project, typed: str) -> list:
        """The first jobs (by number) whose uid, title or type holds every word typed."""
        if len(self._titles) != len(project.jobs):  # built once per palette (and again while jobs are read)
            ordered = sorted(project.jobs.values(), key=lambda j: j.number)
            self._titles = [(j.uid, f"{j.uid} {j.title} {j.type}".lower()) for j in ordered]
        words = typed.split()
        found = []
        for uid, haystack in self._titles:
            if all(word in haystack for word in words):
                job = project.jobs.get(uid)
                if job is not None:
                    found.append(job)
                    if len(found) >= self.JOBS_SHOWN:
                        break
        return found

    def _go_to_job(self, uid: str) -> None:
        screen = self.app.main_screen
        screen.dispatch(BY_ID["job"], (uid,))

    async def _go_to_result(self, uid: str, output: str, result: str) -> None:
        """The job in the jobs pane, then, once the outputs pane shows it, the result there."""
        screen = self.app.main_screen
        self._go_to_job(uid)
        if screen.jobs_pane.tree.current_uid != uid:
            return  # refused, and the status bar says why
        for _ in range(300):  # the outputs pane follows the jobs pane's highlight by a message
            outputs = screen.outputs
            if outputs.job is not None and outputs.job.uid == uid:
                if outputs.go_to_result((uid, output, result)):
                    outputs.focus()
                return
            await asyncio.sleep(0.01)
