"""Reading job.json files: many at once, summaries only, full documents again on demand.

A project of 50,000 jobs on a network filesystem costs milliseconds per open, so job.json files
are read by a pool of threads (a read releases the GIL). Each thread touches only its own file:
it stats it, reads it and decodes its *summary* (uid, title, type, status, dates, lineage) into a
new ``Job`` that no other thread sees until the pool hands it back. The caller keeps no document
bytes: a job's inputs and outputs are read again from disk when first used (:func:`load_io`),
checked against the size and mtime seen when it was listed, and the parsed inputs/outputs of at
most ``KEEP_PARSED`` jobs are kept at a time.

A reopen stats every job.json to validate the summary cache. On a fast filesystem, where threads
would only take turns at the GIL, a forked child process stats the last ones (``FileStamps``):
it touches only those files' stats and a pipe, and sends the stamps back. A pass over every job's
outputs (a candidates search) has the pool's threads read the next documents ahead of the parsing
on a slow filesystem (``reading_ahead``).
"""

from __future__ import annotations

import contextlib
import errno
import marshal
import os
import sys
import threading
import time
from collections import deque
from itertools import islice
from sys import intern  # types, statuses, versions, workspaces repeat across 50,000 jobs: one copy each
from collections import OrderedDict
from pathlib import Path
from stat import S_ISREG
from typing import TYPE_CHECKING, Any, Iterable, Iterator

import msgspec

from . import untrusted
from .atomic import read_regular
from .errors import JobDocumentError
from .jobdoc import V4_KEYS, ParsedInputs, job_from_bytes, parse_date, parse_io
from .model import Job, OutputGroup

if TYPE_CHECKING:  # imported when a pool is first needed: concurrent.futures brings logging
    from concurrent.futures import ThreadPoolExecutor

READERS = 16  # threads: enough to hide ~5 ms per open on NFS/Lustre, few enough for a laptop
PROBE = 16  # files read one by one first, timed: do they come slowly enough for threads to help?
SLOW_OPEN = 0.0003  # seconds per file above which the pool reads (a page-cache read takes ~0.03 ms)
KEEP_PARSED = 256  # jobs whose parsed inputs/outputs are kept (the rest are read again on use)

# What identifies one version of a job.json: size, mtime and ctime (ns), inode.
Stamp = tuple[int, int, int, int]


def stamp_of(st: os.stat_result) -> Stamp:
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def read_job_file(path: str | Path) -> tuple[bytes, Stamp]:
    """The bytes of one job.json and their stamp; only a regular file is ever opened (a FIFO
    would block). Raises OSError. The one place a job.json is opened (benchmarks wrap it)."""
    data, st = read_regular(path)
    return data, stamp_of(st)


# --- summaries -------------------------------------------------------------------------------
# Only the fields a listing needs are decoded; the rest of the document is skipped (still
# checked to be JSON). Values are typed Any here and checked by the same untrusted boundary as a
# full parse; anything the fast decoder refuses (NaN tokens, lone surrogates, deep nesting, a
# ``spec`` that is not an object) goes the full, slower way, which gives the precise message.


class _Spec(msgspec.Struct):
    type: Any = None


class _Summary(msgspec.Struct):
    uid: Any = None
    title: Any = None
    job_type: Any = None
    type: Any = None
    status: Any = None
    created_at: Any = None
    parents: Any = None
    children: Any = None
    workspace_uids: Any = None
    version: Any = None
    spec: _Spec | None = None
    # presence only (v4 detection): Raw skips the value without building it (empty: absent)
    input_slot_groups: msgspec.Raw = msgspec.Raw()
    output_results: msgspec.Raw = msgspec.Raw()
    output_result_groups: msgspec.Raw = msgspec.Raw()


_decoder = msgspec.json.Decoder(_Summary)


def summary_from_bytes(uid: str, data: bytes) -> Job:
    """The job's summary fields (a broken job with its reason when the document is unusable)."""
    try:
        summary = _decoder.decode(data)
    except (msgspec.DecodeError, RecursionError, ValueError):
        return _without_io(job_from_bytes(uid, data))  # the full parse says precisely what is wrong
    if summary.spec is not None:
        schema, job_type = "v5", summary.spec.type
    elif any(len(getattr(summary, name)) for name in V4_KEYS):
        schema, job_type = "v4", summary.job_type if summary.job_type is not None else summary.type
    else:
        return Job(uid, error="job.json is not a job document (no spec, input_slot_groups or output_results)")
    try:
        return _summary_job(uid, schema, summary, job_type)
    except JobDocumentError as exc:
        return Job(uid, error=str(exc))


def _summary_job(uid: str, schema: str, summary: _Summary, job_type: Any) -> Job:
    """The same checks, in the same order, as :func:`jobdoc.job_from_document`."""
    try:
        doc_uid = untrusted.optional_name(summary.uid, "uid", "job uid")
        if doc_uid and doc_uid != uid:
            raise JobDocumentError(f"job.json describes {doc_uid}, not {uid} (copied from another job?)")
        type_key = "spec.type" if schema == "v5" else ("job_type" if summary.job_type is not None else "type")
        return Job(
            uid=uid,
            type=intern(untrusted.text(job_type, type_key)),
            title=untrusted.text(summary.title, "title"),
            status=intern(untrusted.text(summary.status, "status")),
            created_at=parse_date(summary.created_at),
            parents=untrusted.names(summary.parents, "parents", "job uid"),
            children=untrusted.names(summary.children, "children", "job uid"),
            workspaces=tuple(map(intern, untrusted.names(summary.workspace_uids, "workspace_uids", "workspace uid"))),
            schema=schema,
            version=intern(untrusted.text(summary.version, "version", 100).strip()),
        )
    except untrusted.Invalid as exc:
        raise JobDocumentError(f"{uid}/job.json: {exc}") from None


def _without_io(job: Job) -> Job:
    """A job parsed in full keeps nothing of its document: its inputs/outputs are read again."""
    job._load = None
    return job


def read_summary(job_dir: str) -> Job:
    """One job's summary (``job_dir``: the job's folder), with where to read its inputs and
    outputs from later."""
    return summary_of(read_document(job_dir))


# What a reading thread hands back: the job folder's name, its job.json's path, and the bytes and
# stamp read, or the error met.
Read = tuple[str, str, bytes | None, Stamp | None, OSError | None]


def read_document(job_dir: str) -> Read:
    """The I/O half of reading a job (what the pool's threads do: it releases the GIL)."""
    uid = os.path.basename(job_dir)
    path = os.path.join(job_dir, "job.json")
    try:
        data, stamp = read_job_file(path)
    except OSError as exc:
        return uid, path, None, None, exc
    return uid, path, data, stamp, None


def summary_of(read: Read) -> Job:
    """The decoding half (done by one thread: decoding holds the GIL, and sixteen threads taking
    turns at it ran at half the speed of one)."""
    uid, path, data, stamp, error = read
    if error is not None:
        if isinstance(error, FileNotFoundError):
            return Job(uid, error="job.json is missing")
        if error.errno == errno.EINVAL and error.strerror and error.strerror.startswith("is "):
            return Job(uid, error=f"job.json {error.strerror}")  # a FIFO, socket or device
        return Job(uid, error=f"job.json cannot be read ({error.strerror or error})")
    return with_source(summary_from_bytes(uid, data), path, stamp)


def with_source(job: Job, path: str, stamp: Stamp) -> Job:
    """``job`` as read from ``path`` (stamp ``stamp``): a usable one reads its inputs/outputs
    from there when they are needed."""
    job._source, job._stamp = path, stamp
    if not job.broken:
        job._load = load_io
    return job


class Readers:
    """Where files are read: in this thread while they come fast (a local disk, the page cache:
    threads taking turns at the GIL only slow the decoding down), by a pool of threads once the
    first files show a latency worth hiding (a network filesystem). Decided once, by timing the
    first ``PROBE`` files; a context manager (the pool is shut down on exit)."""

    def __init__(self) -> None:
        self.pool: ThreadPoolExecutor | None = None
        self.parallel: bool | None = None  # undecided until the first files are timed

    def __enter__(self) -> "Readers":
        return self

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)

    def probe(self, function, items: list) -> list:
        """``function`` on the first ``PROBE`` items, timed, while undecided (then: parallel or
        not); nothing once decided. The caller goes on from ``len(result)``."""
        if self.parallel is not None or not items:
            return []
        start = time.perf_counter()
        done = [function(item) for item in items[:PROBE]]
        self.parallel = (time.perf_counter() - start) / len(done) > SLOW_OPEN
        return done

    @property
    def threads(self) -> ThreadPoolExecutor:
        if self.pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self.pool = ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="csrebind-read")
        return self.pool


# Files per task handed to a thread: one task per file costs more in the pool than a local stat.
CHUNK = 64


def _chunks(items: list) -> list[list]:
    size = max(CHUNK // 4, min(CHUNK, -(-len(items) // READERS)))
    return [items[i:i + size] for i in range(0, len(items), size)]


def stat_all(paths: list[str], readers: Readers, dir_fd: int | None = None) -> list[Stamp | None]:
    """The stamps of ``paths`` (None for a missing or non-regular file); with ``dir_fd``, paths
    relative to that folder (the kernel then walks two names per path, not the whole path)."""
    stamps = readers.probe(lambda path: _stamp_or_none(path, dir_fd), paths)
    rest = paths[len(stamps):]
    if readers.parallel and rest:
        parts = readers.threads.map(lambda part: [_stamp_or_none(path, dir_fd) for path in part], _chunks(rest))
        return stamps + [stamp for part in parts for stamp in part]
    return stamps + [_stamp_or_none(path, dir_fd) for path in rest]


# --- stats ahead, in a child process -------------------------------------------------------------
# On a local disk a stat takes microseconds, half of them making Python's stat result, so threads
# only take turns at the GIL (two were slower than one). A forked child has an interpreter of its
# own: on a reopen it stats the last files on the other core while this process decodes the
# summary cache and stats the first ones.

AHEAD_FROM = 4096  # files from which a child is forked (at 2,000-5,000 it already saved a few ms)
AHEAD_SHARE = 2 / 3  # of the files, the last ones, that the child stats (this process also decodes)


class FileStamps:
    """The stamps of ``paths`` (relative to ``dir_fd``), a batch at a time (``between``): stat'ed
    in this process, except the last ``AHEAD_SHARE`` of them when ``fork_ahead`` started a child
    on them.

    The child touches nothing but those stats and its end of a pipe, and ends with ``os._exit``
    (no exit handlers, no flush of buffers it inherited). If it fails, its files are stat'ed
    here. ``close`` (or the ``with`` block's end) reaps it, done or not."""

    def __init__(self, paths: list[str], dir_fd: int, readers: Readers) -> None:
        self.paths, self.dir_fd, self.readers = paths, dir_fd, readers
        self.split = len(paths)  # the child's files start here
        self.pid: int | None = None
        self.pipe = -1
        self._theirs: list[Stamp | None] | None = None

    def __enter__(self) -> "FileStamps":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def fork_ahead(self) -> None:
        """Start a child on the last files when that pays: many files, a fast filesystem (a slow
        one is read by the pool's threads) and a process of one thread (a fork copies only the
        calling thread: the UI's reader, a worker, never forks), on Linux (where clusters are; a
        macOS process may not fork safely without exec)."""
        if len(self.paths) < AHEAD_FROM or not sys.platform.startswith("linux") or threading.active_count() > 1:
            return
        self.readers.probe(lambda path: _stamp_or_none(path, self.dir_fd), self.paths)
        if self.readers.parallel:
            return
        split = len(self.paths) - int(len(self.paths) * AHEAD_SHARE)
        try:
            self.pid, self.pipe = _forked_stats(self.paths[split:], self.dir_fd)
        except OSError:  # no process or pipe to spare: stat them here
            return
        self.split = split

    def between(self, start: int, end: int) -> list[Stamp | None]:
        """The stamps of ``paths[start:end]``."""
        end = min(end, len(self.paths))
        own = max(start, min(end, self.split))
        stamps = stat_all(self.paths[start:own], self.readers, self.dir_fd)
        if own == end:
            return stamps
        theirs = self._result()
        if theirs is None:
            return stamps + stat_all(self.paths[own:end], self.readers, self.dir_fd)
        return stamps + theirs[own - self.split:end - self.split]

    def _result(self) -> list[Stamp | None] | None:
        """The child's stamps (waiting for them), or None if it failed."""
        if self.pid is not None:
            try:
                with open(self.pipe, "rb", closefd=False) as stream:  # ``close`` closes it
                    data = stream.read()
            except OSError:
                data = b""
            status = self.close()
            try:
                stamps = marshal.loads(data) if status == 0 else None
            except (EOFError, ValueError, TypeError):  # a pipe read short: stat them here
                stamps = None
            if isinstance(stamps, list) and len(stamps) == len(self.paths) - self.split:
                self._theirs = stamps
        return self._theirs

    def close(self) -> int | None:
        """Reap the child (its wait status), closing the pipe first: a child still writing then
        stops."""
        if self.pid is None:
            return None
        with contextlib.suppress(OSError):
            os.close(self.pipe)
        pid, self.pid = self.pid, None
        try:
            return os.waitpid(pid, 0)[1]
        except ChildProcessError:
            return None


def _forked_stats(paths: list[str], dir_fd: int) -> tuple[int, int]:
    """Fork a child that writes the marshalled stamps of ``paths`` to a pipe: (its pid, the read end)."""
    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        raise
    if pid == 0:  # the child
        code = 1
        try:
            os.close(read_end)
            data = memoryview(marshal.dumps([_stamp_or_none(path, dir_fd) for path in paths]))
            while data:
                data = data[os.write(write_end, data):]
            code = 0
        finally:
            os._exit(code)  # whatever happened, here and nowhere else
    os.close(write_end)
    return pid, read_end


def read_summaries(job_dirs: list[str], readers: Readers) -> list[Job]:
    """The summaries of ``job_dirs``, in order."""
    jobs = list(map(summary_of, readers.probe(read_document, job_dirs)))
    rest = job_dirs[len(jobs):]
    if readers.parallel and rest:
        return jobs + _pipelined(rest, readers.threads)
    return jobs + [summary_of(read_document(job_dir)) for job_dir in rest]


def _pipelined(job_dirs: list[str], pool: ThreadPoolExecutor) -> list[Job]:
    """The pool's threads read the files (a few chunks ahead, so that only that many documents
    are held at once) while this thread decodes them."""
    chunks = iter(_chunks(job_dirs))
    pending = deque(pool.submit(_read_chunk, chunk) for chunk in islice(chunks, 2 * READERS))
    jobs: list[Job] = []
    while pending:
        reads = pending.popleft().result()
        following = next(chunks, None)
        if following is not None:
            pending.append(pool.submit(_read_chunk, following))
        jobs.extend(map(summary_of, reads))
    return jobs


def _read_chunk(job_dirs: list[str]) -> list[Read]:
    return [read_document(job_dir) for job_dir in job_dirs]


def _stamp_or_none(path: str, dir_fd: int | None = None) -> Stamp | None:
    try:
        st = os.stat(path, dir_fd=dir_fd)
    except OSError:
        return None
    if not S_ISREG(st.st_mode):
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)  # stamp_of, without a call: 50,000 times


# --- inputs and outputs, on demand -----------------------------------------------------------


class _Parsed:
    """The jobs whose parsed inputs/outputs are kept, least recently used first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.jobs: OrderedDict[int, Job] = OrderedDict()
        self.lock = threading.Lock()

    def used(self, job: Job) -> None:
        with self.lock:
            self.jobs[id(job)] = job
            self.jobs.move_to_end(id(job))
            while len(self.jobs) > self.size:
                _, oldest = self.jobs.popitem(last=False)
                oldest.forget_io()


PARSED = _Parsed(KEEP_PARSED)


# --- documents read ahead, for a pass over many jobs -------------------------------------------
# A candidates search parses the outputs of every job: on a network filesystem, one open after
# another is the whole of its time. ``reading_ahead`` has the pool's threads read the next
# documents while the caller parses; ``load_io`` takes a document read ahead instead of reading it.

AHEAD = 4 * READERS  # documents read ahead at most (what is held in memory at once)
_read_ahead: dict[str, tuple[bytes, Stamp] | OSError] = {}  # path → what a reading thread found


def reading_ahead(jobs: Iterable[Job]) -> Iterator[Job]:
    """``jobs``, in order; while the caller parses each one's outputs, the pool's threads read the
    next ones' documents, when the first reads show a slow filesystem (on a fast one threads only
    slow the parsing down, and documents are read when used, as always). Each reading thread
    touches only its own file; the caller's thread takes what it read."""
    jobs = list(jobs)
    unread = [job for job in jobs if job._outputs is None and job._load is load_io and job._source is not None]
    with Readers() as readers:
        for job, read in zip(unread, readers.probe(_read_for_io, unread)):
            _read_ahead[job._source] = read  # type: ignore[index]
        rest = deque(unread[PROBE:]) if readers.parallel else deque()
        pending: deque = deque()
        try:
            for job in jobs:
                while rest and len(pending) < AHEAD:
                    following = rest.popleft()
                    pending.append((following._source, readers.threads.submit(_read_for_io, following)))
                if pending and pending[0][0] == job._source:  # the jobs read ahead come in this order
                    path, future = pending.popleft()
                    _read_ahead[path] = future.result()
                yield job
        finally:
            for job in unread:
                _read_ahead.pop(job._source, None)  # type: ignore[arg-type]


def _read_for_io(job: Job) -> tuple[bytes, Stamp] | OSError:
    try:
        return read_job_file(job._source)  # type: ignore[arg-type]
    except OSError as exc:
        return exc


def load_io(job: Job) -> tuple[tuple[OutputGroup, ...], ParsedInputs]:
    """Read ``job``'s document again (or take it as read ahead) and parse its outputs (and inputs,
    or how to make them: ``jobdoc.parse_io``). A document changed since
    it was listed updates the job's summary too (title, status…: what the user sees)."""
    path = job._source
    try:
        read = _read_ahead.pop(path, None)
        if isinstance(read, OSError):
            raise read
        data, stamp = read if read is not None else read_job_file(path)
    except OSError as exc:
        raise JobDocumentError(f"{job.uid}/job.json cannot be read again ({exc.strerror or exc})") from None
    if stamp != job._stamp:
        fresh = summary_from_bytes(job.uid, data)
        if fresh.broken:
            raise JobDocumentError(f"{job.uid}/job.json changed since it was listed and cannot be used: {fresh.error}")
        job.refresh_summary(fresh)
        job._stamp = stamp
    parsed = parse_io(data, job.uid, job.schema)
    PARSED.used(job)
    return parsed


def changed_on_disk(job: Job) -> bool:
    """True when ``job``'s job.json is no longer the file it was read from (its parsed inputs and
    outputs are then dropped, to be read again)."""
    if job._source is None:
        return False
    current = _stamp_or_none(job._source)
    if current == job._stamp:
        return False
    job.forget_io()
    return True
