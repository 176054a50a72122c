"""The job-summary cache: reopening an unchanged project reads one file plus a stat per job.

``$XDG_CACHE_HOME/csrebind/summaries/<name>-<hash of the resolved path>.msgpack`` holds, per
job folder, the stamp of its job.json (size, mtime, ctime, inode) and the summary read from it
(the fields a listing shows: never inputs, outputs or any other part of the document). A job
whose job.json has another stamp now is read again; a cache that is corrupt, of another format
or of another project is ignored, and every cache is rewritten whole and atomically.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from datetime import datetime, timezone
from pathlib import Path

import msgspec

from .jobread import Stamp, load_io
from .model import Job

FORMAT = "csrebind job summaries"
VERSION = 1


class Entry(msgspec.Struct, array_like=True, gc=False):  # no cycles: 50,000 entries the collector need not walk
    name: str  # the job folder (J12)
    stamp: tuple[int, int, int, int]
    type: str
    title: str
    status: str
    created: float | None
    parents: tuple[str, ...]
    children: tuple[str, ...]
    workspaces: tuple[str, ...]
    schema: str | None
    version: str
    error: str | None


class CacheFile(msgspec.Struct):
    format: str
    version: int
    project: str
    jobs: list[Entry]


_decoder = msgspec.msgpack.Decoder(CacheFile)
_encoder = msgspec.msgpack.Encoder()


def cache_dir() -> Path:
    value = os.environ.get("XDG_CACHE_HOME")
    base = Path(value) if value and Path(value).is_absolute() else Path.home() / ".cache"
    return base / "csrebind" / "summaries"


def cache_path(project_path: Path) -> Path:
    digest = hashlib.sha256(os.fsencode(project_path)).hexdigest()[:20]
    return cache_dir() / f"{project_path.name[:60]}-{digest}.msgpack"


class SummaryCache:
    """What the last read of one project found (``known``, each entry dropped once used) and the
    jobs this read finds (``found``)."""

    def __init__(self, project_path: Path) -> None:
        self.project_path = project_path
        self.path = cache_path(project_path)
        self.known: dict[str, Entry] = self._load()
        self.was_empty = not self.known
        self.found: dict[str, Job] = {}
        self.changed = False

    def _load(self) -> dict[str, Entry]:
        try:
            with open(self.path, "rb") as stream:
                cached = _decoder.decode(stream.read())
        except (OSError, msgspec.DecodeError, ValueError, RecursionError):
            return {}  # missing, unreadable, corrupt or of another format: read every job
        if cached.format != FORMAT or cached.version != VERSION or cached.project != str(self.project_path):
            return {}
        return {entry.name: entry for entry in cached.jobs}

    def job(self, name: str, path: str, stamp: Stamp | None) -> Job | None:
        """The cached summary of job folder ``name`` if its job.json still has ``stamp``."""
        entry = self.known.pop(name, None)
        if entry is None or stamp is None or tuple(entry.stamp) != stamp:
            self.changed |= entry is not None
            return None
        job = self.found[name] = _job(entry, path)
        return job

    def add(self, job: Job) -> None:
        """Remember a job just read from disk (before its children are linked: the cache holds
        what the document says)."""
        if job._stamp is not None:  # a missing job.json has nothing to remember
            self.found[job.uid] = job
            self.changed = True

    def save(self) -> None:
        """Write the cache when this read found something the old one did not hold (or lost a
        job), then let go of it; a failure only costs the next start its speed."""
        changed = self.changed or bool(self.known)  # entries left over: jobs gone since
        jobs, self.found, self.known = self.found, {}, {}
        if not changed:
            return
        document = CacheFile(FORMAT, VERSION, str(self.project_path), [_entry(job) for job in jobs.values()])
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.part")
            try:
                temporary.write_bytes(_encoder.encode(document))
                os.replace(temporary, self.path)
            finally:
                with contextlib.suppress(OSError):
                    temporary.unlink()


def _entry(job: Job) -> Entry:
    created = job.created_at.timestamp() if job.created_at is not None else None
    return Entry(job.uid, job._stamp, job.type, job.title, job.status, created, job.parents, job.children,
                 job.workspaces, job.schema, job.version, job.error)


def _job(entry: Entry, path: str) -> Job:
    created = datetime.fromtimestamp(entry.created, tz=timezone.utc) if entry.created is not None else None
    job = Job(entry.name, entry.type, entry.title, entry.status, created, entry.parents, entry.children,
              entry.workspaces, entry.schema, entry.version, entry.error)
    job._source, job._stamp = path, entry.stamp
    if entry.error is None:
        job._load = load_io
    return job
