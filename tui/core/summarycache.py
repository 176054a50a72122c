"""The job-summary cache: reopening an unchanged project reads one file plus a stat per job.

``$XDG_CACHE_HOME/csrebind/summaries/<name>-<hash of the resolved path>.msgpack`` holds, per
job folder, the stamp of its job.json (size, mtime, ctime, inode) and the summary read from it
(the fields a listing shows: never inputs, outputs or any other part of the document), and the
job folders' names with the project folder's stamp. A job whose job.json has another stamp now
is read again, and the folder listed again when its stamp changed; a cache that is corrupt, of
another format or of another project is ignored, and every cache is rewritten whole and
atomically.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from datetime import datetime
from operator import attrgetter
from pathlib import Path

import msgspec

from .gcpause import gc_paused
from .jobread import Stamp, load_io
from .model import Job

FORMAT = "csrebind job summaries"
VERSION = 3  # 2: jobs decoded as Jobs; dates as msgpack timestamps (ISO text when they have a UTC offset)
#              3: the job folders listed, with the project folder's stamp

# An entry is a Job's first twelve fields, as an array (Job is array-like): uid (the job folder),
# the summary fields, the job.json's stamp. Decoding makes the Jobs themselves, checked field by
# field; the fields after the stamp are set when a job is used (whatever a damaged cache holds).


class CacheFile(msgspec.Struct):
    format: str
    version: int
    project: str
    # Decoded on demand (``SummaryCache.decode``): a reader can start the job.json stats first
    # and decode while they run (``jobread.FileStamps``).
    jobs: msgspec.Raw
    # The children the documents of these jobs leave out (project.missing_children): when every
    # job is found unchanged, they need not be looked for again.
    missing_children: dict[str, tuple[str, ...]]
    # The job folders found in the project folder, in uid order (with those lacking a job.json),
    # and the project folder's stamp then: while it is the same, no entry was added or removed.
    # None when the folder had changed too recently to tell (see ``listed``).
    folders: list[str]
    folder: tuple[int, int, int, int] | None


# (mtime, ctime, inode, device) of the project folder. A folder gains or loses an entry only by
# getting a new mtime and ctime; but a timestamp has a granularity (a clock tick, or a second on
# some filesystems), so a folder changed in the last moments could change again and keep its
# stamp: its listing is trusted only once the folder is SETTLED seconds older than the listing.
FolderStamp = tuple[int, int, int, int]
SETTLED_NS = 2_000_000_000


def folder_stamp(st: os.stat_result) -> FolderStamp:
    return (st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


_decoder = msgspec.msgpack.Decoder(CacheFile)
_jobs_decoder = msgspec.msgpack.Decoder(list[Job])
_encoder = msgspec.msgpack.Encoder()


def cache_dir() -> Path:
    value = os.environ.get("XDG_CACHE_HOME")
    base = Path(value) if value and Path(value).is_absolute() else Path.home() / ".cache"
    return base / "csrebind" / "summaries"


def cache_path(project_path: Path) -> Path:
    digest = hashlib.sha256(os.fsencode(project_path)).hexdigest()[:20]
    return cache_dir() / f"{project_path.name[:60]}-{digest}.msgpack"


class SummaryCache:
    """What the last read of one project found and what this read finds (``found``, in the
    order the jobs were looked up: the next read's order).

    The jobs are looked up in batches, in uid order, which is the order the cache keeps them
    in: while every batch is the cache's next run of jobs with the same stamps, a batch is
    taken whole by two list comparisons (no Python step per job: 50,000 of them cost more than
    the stats). From the first difference on (a job edited, added or removed), the rest of the
    cache is looked up by name."""

    def __init__(self, project_path: Path) -> None:
        self.project_path = project_path
        self.path = cache_path(project_path)
        self.missing_children: dict[str, tuple[str, ...]] = {}
        self.cached_folders: tuple[list[str], FolderStamp | None] = ([], None)
        self.listing: tuple[list[str], FolderStamp | None] = ([], None)  # this read's, for the next
        self._raw_jobs: msgspec.Raw | None = self._load()
        self.cached: list[Job] = []  # by ``decode``
        self.was_empty = True
        self.taken = 0  # cached[:taken] were taken in order
        self.known: dict[str, Job] | None = None  # the rest by name, once the order differs
        self.found: list[Job] = []
        self.changed = False
        self.misses = 0  # job folders not found in the cache as they are now (new, edited, no job.json)

    def _load(self) -> msgspec.Raw | None:
        """The cache file's header, checked; its jobs still encoded."""
        try:
            with open(self.path, "rb") as stream:
                cached = _decoder.decode(stream.read())
        except (OSError, msgspec.DecodeError, ValueError, RecursionError):
            return None  # missing, unreadable, corrupt or of another format: read every job
        if cached.format != FORMAT or cached.version != VERSION or cached.project != str(self.project_path):
            return None
        self.missing_children = cached.missing_children
        self.cached_folders = (cached.folders, cached.folder)
        return cached.jobs

    @property
    def holds_jobs(self) -> bool:
        """Whether the cache file had jobs to decode (before ``decode``)."""
        return self._raw_jobs is not None and len(self._raw_jobs) > 1  # b"\x90": an empty array

    def decode(self) -> None:
        """Decode the cached jobs (once; before the first lookup). When they do not decode, no
        job is taken from the cache (its folder listing is checked on its own when used)."""
        raw, self._raw_jobs = self._raw_jobs, None
        if raw is None:
            return
        try:
            with gc_paused(freeze=True):  # 50,000 new jobs, none garbage
                self.cached = _jobs_decoder.decode(raw)
        except (msgspec.DecodeError, ValueError, RecursionError):
            self.cached, self.missing_children, self.cached_folders = [], {}, ([], None)
        self.was_empty = not self.cached

    def folders(self, stamp: FolderStamp) -> list[str] | None:
        """The job folders the cache lists, if the project folder has the stamp it had then."""
        names, then = self.cached_folders
        if then is None or then != stamp:
            return None
        self.listing = self.cached_folders
        return list(names)

    def listed(self, names: list[str], stamp: FolderStamp) -> None:
        """The job folders this read found (``job_dir_names``) in a folder stamped ``stamp``
        before it was listed; kept with its stamp if the folder had settled by then."""
        settled = time.time_ns() - max(stamp[0], stamp[1]) > SETTLED_NS
        self.listing = (names, stamp if settled else None)
        self.changed |= self.listing != self.cached_folders

    def jobs(self, names: list[str], paths: list[str], stamps: list[Stamp | None]) -> tuple[list[Job | None], list[int]]:
        """The cached job of each folder of ``names`` whose job.json (at ``paths``) still has the
        stamp of ``stamps``, None for the others, and where the Nones are (the jobs to read).
        The caller then hands the batch, completed, to ``keep``."""
        if self.known is None:
            run = self.cached[self.taken:self.taken + len(names)]
            if list(map(_uid, run)) == names and list(map(_stamp, run)) == stamps:
                self.taken += len(run)
                _adopt(run, paths)
                return run, []  # type: ignore[return-value]
            self.known = {job.uid: job for job in self.cached[self.taken:]}  # the order differs from here
        return self._by_name(names, paths, stamps)

    def _by_name(self, names: list[str], paths: list[str], stamps: list[Stamp | None]) -> tuple[list[Job | None], list[int]]:
        known = self.known
        assert known is not None
        jobs: list[Job | None] = []
        missing: list[int] = []
        adopted: list[Job] = []
        their_paths: list[str] = []
        for i, (name, stamp) in enumerate(zip(names, stamps)):
            job = known.pop(name, None)
            if job is not None and job._stamp == stamp:
                adopted.append(job)
                their_paths.append(paths[i])
            else:
                self.changed |= job is not None
                missing.append(i)
                job = None
            jobs.append(job)
        _adopt(adopted, their_paths)
        self.misses += len(missing)
        return jobs, missing

    def keep(self, jobs: list[Job], read: list[Job]) -> None:
        """Remember a batch as this read found it (``jobs``, in order), of which ``read`` were
        just read from disk (the cache holds what their documents say: call this before the
        children are linked)."""
        if any(job._stamp is not None for job in read):  # a missing job.json has nothing to remember
            self.changed = True
        # a batch taken whole from the cache is kept as it is: no step per job
        self.found += jobs if not read else [job for job in jobs if job._stamp is not None]

    @property
    def unchanged(self) -> bool:
        """Once every job folder was looked up: each was found in the cache as it is, and the
        cache holds no other (the same jobs as when it was written)."""
        return not self.was_empty and not self.misses and not self._left_over

    @property
    def _left_over(self) -> bool:
        """Cached jobs no folder looked up so far has (once all were looked up: jobs gone since)."""
        return bool(self.known) if self.known is not None else self.taken < len(self.cached)

    def save(self, missing_children: dict[str, tuple[str, ...]]) -> None:
        """Write the cache, with the children the jobs' documents leave out, when this read found
        something the old one did not hold (or lost a job), then let go of it; a failure only
        costs the next start its speed."""
        changed = self.changed or self._left_over
        jobs, self.found, self.cached, self.known = self.found, [], [], None
        if not changed:
            return
        entries = [entry for entry in map(_entry, jobs) if entry is not None]
        document = {"format": FORMAT, "version": VERSION, "project": str(self.project_path), "jobs": entries,
                    "missing_children": missing_children, "folders": self.listing[0], "folder": self.listing[1]}
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.part")
            try:
                temporary.write_bytes(_encoder.encode(document))
                os.replace(temporary, self.path)
            finally:
                with contextlib.suppress(OSError):
                    temporary.unlink()


_uid = attrgetter("uid")
_stamp = attrgetter("_stamp")


def _adopt(jobs: list[Job], paths: list[str]) -> None:
    """Cached ``jobs`` as read from ``paths``: their inputs/outputs are read from there when used.
    The fields after the stamp are set whatever a damaged cache entry held for them. What
    ``jobread.with_source`` does for a job read from disk, in one loop for a whole batch."""
    for job, path in zip(jobs, paths):
        job._source, job._outputs, job._inputs, job._search = path, None, None, None
        job._load = load_io if job.error is None else None


def _entry(job: Job) -> list | None:
    """What the cache keeps of ``job``; None when its date would not come back as it is."""
    created = job.created_at
    if created is not None and created.utcoffset():
        created = _with_offset(created)
        if created is None:
            return None
    return [job.uid, job.type, job.title, job.status, created, job.parents, job.children, job.workspaces,
            job.schema, job.version, job.error, job._stamp]


def _with_offset(moment: datetime) -> str | None:
    """A date with a UTC offset as ISO text (a msgpack timestamp keeps the instant only, and the
    offset is shown), if it decodes back to the same date and offset."""
    text = moment.isoformat()
    try:
        back = _date_decoder.decode(_encoder.encode(text))
    except (msgspec.DecodeError, ValueError):
        return None
    return text if back == moment and back.utcoffset() == moment.utcoffset() else None


_date_decoder = msgspec.msgpack.Decoder(datetime)
