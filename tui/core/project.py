"""Discover and read a CryoSPARC project directory.

A project directory holds ``project.json`` (its name is arbitrary: ``P12``, ``CS-my-protein``).
Jobs are ``J<N>/job.json``; live sessions (``S<N>``) and stray files are skipped. A job whose
document cannot be used is kept as *broken* with a one-line reason; the rest still loads.
"""

from __future__ import annotations

import os
import re
from bisect import bisect_left
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from . import untrusted
from .atomic import read_regular_bytes
from .errors import ProjectError, RefError
from .gcpause import gc_paused
from .jobdoc import load_json_bytes
from .jobread import FileStamps, Readers, read_summaries
from .model import Job, OutputGroup, OutputResult, ResolvedResult, Workspace
from .refs import ResultRef
from .summarycache import SummaryCache, folder_stamp

JOB_DIR_RE = re.compile(r"J[0-9]+")
ALL_JOB_DIRS_RE = re.compile(r"J[0-9]+(?:/J[0-9]+)*")
Progress = Callable[[int, int], None]


@dataclass
class Project:
    path: Path
    uid: str
    title: str
    jobs: dict[str, Job]
    workspaces: dict[str, Workspace] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    last_dumped_version: str = ""  # project.json's: the CryoSPARC version that last wrote the dumps (v5)
    cache: SummaryCache | None = field(default=None, repr=False)  # job summaries of the last read
    # The children the jobs' documents leave out, found while reading (see finish_loading).
    missing_children: dict[str, tuple[str, ...]] | None = field(default=None, repr=False)

    def job(self, uid: str) -> Job:
        try:
            return self.jobs[uid]
        except KeyError:
            raise RefError(f"job {uid} is not in project {self.uid} ({self.path})") from None

    def usable_job(self, uid: str) -> Job:
        """The job, its whole document checked: a target, a job shown whole."""
        job = self._checked(self.job(uid))
        job.inputs  # noqa: B018 - made when first asked for: a malformed one makes the job broken
        return self._checked(job)

    def _checked(self, job: Job) -> Job:
        job.outputs  # noqa: B018 - parsing can find the document malformed
        if job.broken:
            raise RefError(f"job {job.uid} cannot be used: {job.error}")
        return job

    def output(self, job_uid: str, output: str) -> OutputGroup:
        """One of a job's outputs (its inputs are not needed, nor checked, for that)."""
        job = self._checked(self.job(job_uid))
        group = job.output(output)
        if group is None:
            names = ", ".join(o.name for o in job.outputs) or "none"
            raise RefError(f"job {job_uid} has no output {output!r}; its outputs: {names}")
        return group

    def result(self, ref: ResultRef) -> OutputResult:
        group = self.output(ref.job, ref.output)
        result = group.result(ref.result)
        if result is None:
            names = ", ".join(r.name for r in group.results) or "none"
            raise RefError(f"{ref.job}.{ref.output} has no result {ref.result!r}; its results: {names}")
        return result

    def resolve(self, ref: ResultRef | str) -> ResolvedResult:
        """Resolve a reference to its metafile, version number and row count (or raise RefError)."""
        if isinstance(ref, str):
            ref = ResultRef.parse(ref)
        return self.result(ref).resolve(ref.version)

    def absolute(self, metafile: str) -> Path:
        """Metafiles in job.json are relative to the project directory, and must stay inside it
        (checked lexically when the job document is read, and again here)."""
        try:
            return self.path / untrusted.relative_path(metafile, "metafile")
        except untrusted.Invalid as exc:
            raise RefError(f"{self.path.name}: {exc}") from None

    def most_recent_building(self) -> Job | None:
        building = [j for j in self.jobs.values() if j.status == "building" and not j.broken]
        return max(building, key=lambda j: (j.created_at is not None, j.created_at or 0, j.number), default=None)


def is_project_dir(path: Path) -> bool:
    return (path / "project.json").is_file()


def open_project(path: str | os.PathLike, cache: bool = True) -> Project:
    """Check the directory and read project.json and workspaces.json; no jobs yet. With
    ``cache``, job summaries found unchanged in the summary cache are not read again."""
    root = Path(path).expanduser()
    if not root.exists():
        raise ProjectError(f"{root}: no such directory")
    if not root.is_dir():
        raise ProjectError(f"{root}: not a directory; give the CryoSPARC project directory (the one holding project.json)")
    if not is_project_dir(root):
        raise ProjectError(
            f"{root}: not a CryoSPARC project directory (it has no project.json); "
            "give the project directory, e.g. /data/cryosparc/CS-my-protein"
        )
    root = root.resolve()
    project = Project(path=root, uid=root.name, title="", jobs={})
    _read_project_json(project)
    _read_workspaces(project)
    if cache:
        project.cache = SummaryCache(root)
    return project


def read_job_batches(project: Project, first: int = 200, largest: int = 16384) -> Iterator[tuple[list[Job], int, int]]:
    """Read the jobs in uid order as (jobs, done, total) batches. The caller adds them to
    ``project.jobs`` (so a UI can show them as they arrive) and calls ``finish_loading``.
    Batches start small, for a quick first screen, and double, so that whatever the caller does
    with everything shown so far after each batch stays linear in total. Files are stat'ed and
    read by a pool of threads (see :mod:`jobread`); summaries still valid in the cache are not
    read at all, and the cache is rewritten after the last batch when anything changed: the
    project is complete once the last batch is out (``finish_loading`` may run then)."""
    root = str(project.path)
    cache = project.cache
    batches: list[list[Job]] = []
    missing: dict[str, tuple[str, ...]] = {}
    with gc_paused(freeze=True), Readers() as readers, _opened_folder(root) as root_fd, ExitStack() as stack:
        names = _job_folders(project.path, root_fd, cache)
        stamps = None
        if cache is not None and cache.holds_jobs:  # a reopen: the stats can start while it decodes
            stamps = stack.enter_context(FileStamps(_job_files(names), root_fd, readers))
            stamps.fork_ahead()
        if cache is not None:
            cache.decode()
        total, start, size = len(names), 0, first
        while start < total:
            batch = _read_batch(root, names, start, start + size, cache, readers, stamps)
            start += len(batch)
            batches.append(batch)
            if start >= total and cache is not None:  # before the last batch: the project is complete with it
                # Every job as cached: the links the cache holds are these jobs' (50,000 jobs: 45 ms)
                missing = cache.missing_children if cache.unchanged else missing_children(
                    {job.uid: job for batch in batches for job in batch})
                project.missing_children = missing
            yield batch, start, total
            size = min(size * 2, largest)
        if cache is not None:
            cache.save(missing)  # after the last batch: a UI need not wait for it


def _job_folders(root: Path, root_fd: int, cache: SummaryCache | None) -> list[str]:
    """The job folders' names (``job_dir_names``), or the ones the cache lists when the project
    folder is as it was then: a folder gains or loses an entry only by changing its mtime and
    ctime (50,000 names: 45 ms of listing and sorting, far more on a network filesystem)."""
    folder = folder_stamp(os.fstat(root_fd))
    names = cache.folders(folder) if cache is not None else None
    if names is not None and not _job_folder_names(names):
        names = None  # a damaged cache: never a path outside the project, nor a job twice
    if names is None:
        names = job_dir_names(root)
        if cache is not None:
            cache.listed(names, folder)
    return names


def _job_folder_names(names: list[str]) -> bool:
    """Whether ``names`` are distinct J<N> folder names."""
    return not names or bool(ALL_JOB_DIRS_RE.fullmatch("/".join(names))) and len(set(names)) == len(names)


@contextmanager
def _opened_folder(path: str) -> Iterator[int]:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield fd
    finally:
        os.close(fd)


def _job_files(names: list[str]) -> list[str]:
    """The job.json paths of job folders ``names``, relative to the project folder."""
    return [f"{name}{os.sep}job.json" for name in names]


def _read_batch(root: str, all_names: list[str], start: int, end: int, cache: SummaryCache | None,
                readers: Readers, stamps: FileStamps | None) -> list[Job]:
    """The jobs of the folders ``all_names[start:end]``: from the cache when it has them as their
    job.json's ``stamps`` say they are now, else read."""
    names = all_names[start:end]
    prefix = f"{root}{os.sep}"  # os.path.join costs more, 50,000 times
    if stamps is None or cache is None or cache.was_empty:
        jobs = read_summaries([prefix + name for name in names], readers)
        if cache is not None:
            cache.keep(jobs, read=jobs)
        return jobs
    relative = stamps.paths[start:end]
    jobs, missing = cache.jobs(names, [prefix + path for path in relative], stamps.between(start, end))
    read = read_summaries([prefix + names[i] for i in missing], readers)
    for i, job in zip(missing, read):
        jobs[i] = job
    cache.keep(jobs, read=read)  # type: ignore[arg-type]  # every None was replaced
    return jobs  # type: ignore[return-value]


def finish_loading(project: Project) -> Project:
    """Complete each job's children (``children`` lags in dumps: every job that names a parent
    is added), with the links found while reading when there are (they are used once)."""
    missing, project.missing_children = project.missing_children, None
    with gc_paused(freeze=True):
        _add_children(project.jobs, missing_children(project.jobs) if missing is None else missing)
    return project


def load_project(path: str | os.PathLike, progress: Progress | None = None, cache: bool = True) -> Project:
    project = open_project(path, cache=cache)
    for batch, done, total in read_job_batches(project):
        project.jobs.update({job.uid: job for job in batch})
        if progress is not None:
            progress(done, total)
    return finish_loading(project)


def job_dir_names(root: Path) -> list[str]:
    """``J<N>`` directories sorted by number; everything else in the project folder is skipped.
    Written for 50,000 folders: C-level sorts and one match, no Python call per name (a sort
    keyed by int(name[1:]) alone took longer than all of this)."""
    with os.scandir(root) as entries:
        folders = [e.name for e in entries if e.is_dir()]
    folders.sort()  # by text: the J names are together, J1 J10 J100 J2…
    names = folders[bisect_left(folders, "J"):bisect_left(folders, "K")]
    if not ALL_JOB_DIRS_RE.fullmatch("/".join(names)):  # a J folder that is not J<N> ("/": in no name)
        names = [name for name in names if JOB_DIR_RE.fullmatch(name)]
    if names and names[0].startswith("J0"):  # a number written with a leading zero (J007): rare
        return sorted(names, key=lambda n: int(n[1:]))
    names.sort(key=len)  # stable: J2 before J10, and J1 J10 J100 in text order already
    return names


def _read_project_json(project: Project) -> None:
    document = _read_json_quietly(project.path / "project.json", project.warnings)
    if isinstance(document, dict):
        project.uid = _checked(project, "project.json", "uid", document, untrusted.optional_name, "project uid") or project.uid
        project.title = _checked(project, "project.json", "title", document, untrusted.text) or ""
        dumped = _checked(project, "project.json", "last_dumped_version", document, untrusted.text)
        project.last_dumped_version = (dumped or "")[:100].strip()
    elif document is not None:
        project.warnings.append("project.json: not a project document; using the folder name as the project uid")


def _checked(project: Project, file: str, name: str, document: dict, check: Callable, *args: str) -> object:
    """``check(document[name])``, or None and a warning naming the file and key."""
    try:
        return check(document.get(name), name, *args)
    except untrusted.Invalid as exc:
        project.warnings.append(f"{file}: {exc}; ignored")
        return None


def _read_workspaces(project: Project) -> None:
    path = project.path / "workspaces.json"
    if not path.exists():
        return
    document = _read_json_quietly(path, project.warnings)
    if document is None:
        return
    if not isinstance(document, list):
        project.warnings.append("workspaces.json: expected a list of workspaces; workspace titles not shown")
        return
    for i, entry in enumerate(document):
        if not isinstance(entry, dict):
            project.warnings.append(f"workspaces.json: [{i}]: expected an object, found {untrusted.describe(entry)}; ignored")
            continue
        try:
            uid = untrusted.name(entry.get("uid"), f"[{i}].uid", "workspace uid")
            title = untrusted.text(entry.get("title"), f"[{i}].title")
        except untrusted.Invalid as exc:
            project.warnings.append(f"workspaces.json: {exc}; ignored")
            continue
        project.workspaces[uid] = Workspace(uid, title)


def _read_json_quietly(path: Path, warnings: list[str]) -> object | None:
    try:
        return load_json_bytes(read_regular_bytes(path))  # never a FIFO: it would block
    except OSError as exc:
        warnings.append(f"{path.name}: cannot be read ({exc.strerror or exc})")
    except ValueError as exc:
        reason = str(exc) if isinstance(exc, untrusted.Invalid) and not str(exc).startswith("not valid JSON") else ""
        warnings.append(f"{path.name}: {reason or 'not valid JSON (truncated or corrupt)'}")
    return None


def missing_children(jobs: dict[str, Job]) -> dict[str, tuple[str, ...]]:
    """The children each job's document leaves out: the jobs naming it as a parent that its
    ``children`` lack, in uid order. Mostly none: only the lacking links are collected."""
    missing: dict[str, list[str]] = {}
    for job in jobs.values():
        for parent in job.parents:
            known = jobs.get(parent)
            if known is not None and job.uid not in known.children:
                missing.setdefault(parent, []).append(job.uid)
    return {uid: tuple(kids) for uid, kids in missing.items()}


def _add_children(jobs: dict[str, Job], missing: dict[str, tuple[str, ...]]) -> None:
    for uid, extra in missing.items():
        job = jobs.get(uid)
        if job is not None:
            job.children += extra
