"""``atomic.read_regular``: the bytes of a regular file and the stat of what was read, in few
system calls; never a FIFO or a directory; the whole file whatever the reads return."""

from __future__ import annotations

import errno
import os

import pytest

from tui.core import atomic
from tui.core.atomic import read_regular, read_regular_bytes


@pytest.mark.parametrize("content", [b"", b"{}", b"x" * 1_000_000 + b"end"])
def test_the_whole_file_and_its_stat(tmp_path, content):
    path = tmp_path / "job.json"
    path.write_bytes(content)
    data, st = read_regular(path)
    assert data == content and st.st_size == len(content) and st.st_ino == path.stat().st_ino
    assert read_regular_bytes(str(path)) == content


def test_a_file_that_grew_after_its_stat_is_read_to_the_end(tmp_path, monkeypatch):
    path = tmp_path / "job.json"
    path.write_bytes(b"0123456789")
    fstat = os.fstat

    def growing(fd):  # the file grows between the stat and the read
        st = fstat(fd)
        with open(path, "ab") as more:
            more.write(b"abcdef" * 500_000)
        return st

    monkeypatch.setattr(atomic.os, "fstat", growing)
    data, st = read_regular(path)
    assert data == b"0123456789" + b"abcdef" * 500_000 and st.st_size == 10


def test_short_reads_are_continued(tmp_path, monkeypatch):
    path = tmp_path / "job.json"
    path.write_bytes(bytes(range(256)) * 40)
    read = os.read
    monkeypatch.setattr(atomic.os, "read", lambda fd, n: read(fd, min(n, 7)))  # a filesystem giving 7 bytes at a time
    assert read_regular(path)[0] == bytes(range(256)) * 40


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_fifo_is_refused_without_being_opened(tmp_path, monkeypatch):
    path = tmp_path / "job.json"
    os.mkfifo(path)
    opened = []
    monkeypatch.setattr(atomic.os, "open", lambda *args: opened.append(args))
    with pytest.raises(OSError) as refused:
        read_regular(path)
    assert refused.value.errno == errno.EINVAL and "named pipe (FIFO)" in refused.value.strerror and opened == []


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(IsADirectoryError):
        read_regular(tmp_path)


def test_a_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_regular(tmp_path / "nowhere.json")


def test_the_descriptor_is_closed_whatever_happens(tmp_path, monkeypatch):
    path = tmp_path / "job.json"
    path.write_bytes(b"{}")
    closed = []
    close = os.close
    monkeypatch.setattr(atomic.os, "close", lambda fd: (closed.append(fd), close(fd)))
    monkeypatch.setattr(atomic.os, "read", lambda fd, n: (_ for _ in ()).throw(OSError(errno.EIO, "I/O error")))
    with pytest.raises(OSError):
        read_regular(path)
    assert len(closed) == 1
