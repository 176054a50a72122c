"""Read and write CryoSPARC `.cs` datasets.

Two on-disk formats exist: NPY (what CryoSPARC jobs write; a 1-D structured numpy array)
and CSDAT (the cryosparc-tools stream format). Every failure is reported as a
`CsFileError` that names the file, says what it actually is and what to do; no raw
numpy, OSError or cryosparc-tools exception escapes this module.
"""

from __future__ import annotations

import json
import os
import re
import struct
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
from numpy.lib import format as npformat
from numpy.lib.recfunctions import repack_fields

from tui.core.atomic import atomic_output, open_regular
from tui.core.errors import CsFileError, CsRebindError

NUMPY_MAGIC = b"\x93NUMPY"
CSDAT_MAGIC = b"\x95CSDAT"
OLD_CSDAT_MAGIC = b"\x94CSDAT"  # cryosparc-tools < 4.4, different compressor
LFS_MAGIC = b"version https://git-lfs"
MAGIC_LEN = 6

# numpy's default 10 kB header limit rejects real wide files (100 class prefixes -> 17 kB).
MAX_HEADER_SIZE = 2**30

# LZ4 cannot expand a block more than ~255 times: a CSDAT header claiming more rows than that can
# hold is refused before anything is allocated.
_LZ4_MAX_RATIO = 256

# Rows are read in chunks of about this many bytes (readinto, never a memory map: a map of a file
# that shrinks while it is read kills the process with SIGBUS).
READ_CHUNK_BYTES = 8 * 2**20

# How much of an unrecognised file to look at when guessing what it is.
_SNIFF_BYTES = 4096
_CSG_KEY = re.compile(r"(?m)(?:^|[{,]\s*)(?:results|group)\s*:")


@dataclass(frozen=True)
class CsHeader:
    """What a `.cs` file holds, read without touching its data."""

    path: str
    format: str  # "numpy" or "csdat"
    num_rows: int
    dtype: np.dtype  # structured; CSDAT string columns are object ("O")
    data_offset: int | None  # first data byte of an NPY file; None for CSDAT

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(self.dtype.names or ())

    @property
    def prefixes(self) -> tuple[str, ...]:
        # dict keeps first-appearance order; columns are not grouped by prefix in real files.
        return tuple(dict.fromkeys(name.split("/", 1)[0] for name in self.fields if name != "uid"))

    def fields_of(self, prefix: str) -> tuple[str, ...]:
        # Match "prefix/" so that "alignments3D" never selects "alignments3D_multi/...".
        return tuple(name for name in self.fields if name.startswith(prefix + "/"))

    def describe_field(self, name: str) -> str:
        """Compact dtype for display, e.g. "<u4 (2,)" or "|S61"."""
        if name not in self.fields:
            raise CsFileError(self.path, f"no field {name!r} in this file")
        field = self.dtype[name]
        if field.shape:
            return f"{field.base.str} {field.shape}"
        return field.str


# ---------------------------------------------------------------------------- reading


def read_header(path: str | os.PathLike[str]) -> CsHeader:
    """Read only the header of a `.cs` file (constant time, whatever the file size)."""
    path = os.fspath(path)
    with _reading(path) as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            raise CsFileError(
                path, "empty file (0 bytes): the copy or the job that wrote it did not finish; copy or re-run it"
            )
        magic = f.read(MAGIC_LEN)
        if magic == NUMPY_MAGIC:
            return _read_numpy_header(path, f, size)
        if magic == CSDAT_MAGIC:
            return _read_csdat_header(path, f, size)
        if magic == OLD_CSDAT_MAGIC:
            raise CsFileError(
                path,
                "old cryosparc-tools < 4.4 stream format, no longer readable; "
                "re-save it with the cryosparc-tools version that wrote it",
            )
        f.seek(0)
        raise CsFileError(path, _what_else_is_it(f.read(_SNIFF_BYTES), size))


def load(
    path: str | os.PathLike[str],
    fields: Iterable[str] | None = None,
    prefixes: Iterable[str] | None = None,
    *,
    mmap: bool = True,
) -> np.ndarray:
    """Load `uid` plus the selected columns (all if both selectors are None), in file order.

    String columns come back as fixed-width bytes (`|S..`), packed in a new array. `mmap` is
    accepted for compatibility and ignored: files are read in chunks, never memory-mapped, so a
    file truncated while it is read is reported ("changed while reading"), never a SIGBUS.
    """
    header = read_header(path)
    names = _select(header, fields, prefixes)
    if header.format == "numpy":
        return _read_rows(header, names)
    return _load_csdat(header, names)


def _read_numpy_header(path: str, f: BinaryIO, size: int) -> CsHeader:
    # Parse the length ourselves so a short file is reported as truncated, not as numpy's EOF error.
    version = _read_exact(path, f, 2, "NumPy version bytes")
    if version[0] not in (1, 2, 3):
        raise CsFileError(path, f"unsupported NumPy file version {version[0]}.{version[1]}; re-save it with numpy")
    len_format = "<H" if version[0] == 1 else "<I"
    prelude = MAGIC_LEN + 2 + struct.calcsize(len_format)
    (header_len,) = struct.unpack(len_format, _read_exact(path, f, struct.calcsize(len_format), "header length"))
    if header_len > MAX_HEADER_SIZE:
        raise CsFileError(
            path, f"NumPy header claims {header_len} bytes, far more than any dataset needs; the file is damaged"
        )
    data_offset = prelude + header_len
    if size < data_offset:
        raise CsFileError(
            path,
            f"truncated header: it needs {data_offset} bytes but the file has only {size}; copy the file again",
        )
    f.seek(0)
    try:
        npformat.read_magic(f)
        read = npformat.read_array_header_1_0 if version[0] == 1 else npformat.read_array_header_2_0
        shape, fortran_order, dtype = read(f, max_header_size=MAX_HEADER_SIZE)
    except Exception as err:  # numpy raises ValueError/SyntaxError/TypeError... for any garbled header
        raise CsFileError(path, f"damaged NumPy header ({_short(err)}); copy the file again") from err
    _check_numpy_layout(path, shape, fortran_order, dtype)
    num_rows = int(shape[0])
    _check_rows_fit(path, num_rows, dtype.itemsize, size - data_offset)
    return CsHeader(path=path, format="numpy", num_rows=num_rows, dtype=dtype, data_offset=data_offset)


def _check_numpy_layout(path: str, shape: tuple[int, ...], fortran_order: bool, dtype: np.dtype) -> None:
    if dtype.names is None:
        raise CsFileError(
            path, f"holds a plain {dtype.str} array of shape {shape}, not a CryoSPARC table with named columns"
        )
    if len(shape) != 1:
        raise CsFileError(path, f"holds a {len(shape)}-D array of shape {shape}; a CryoSPARC dataset is 1-D")
    if shape[0] < 0:
        raise CsFileError(path, f"damaged NumPy header (negative row count {shape[0]}); copy the file again")
    if fortran_order:
        raise CsFileError(path, "is stored in Fortran order; CryoSPARC datasets are C order, re-save it with numpy")
    objects = _object_fields(dtype)
    if objects:
        # numpy would call this "pickled data"; say instead why we refuse it.
        raise CsFileError(
            path,
            f"columns {', '.join(objects)} hold Python objects (pickled data), which CryoSPARC never writes "
            "and csrebind will not unpickle; "
            "re-save it with fixed-width byte strings (e.g. cryosparc-tools Dataset.save)",
        )
    _check_has_uid(path, dtype)


def _check_rows_fit(path: str, num_rows: int, itemsize: int, available: int) -> None:
    needed = num_rows * itemsize
    if available < needed:
        raise CsFileError(
            path,
            f"truncated: header says {num_rows} rows ({needed} bytes) but only {available} bytes of data follow; "
            "the copy is incomplete, copy it again",
        )


def _read_csdat_header(path: str, f: BinaryIO, size: int) -> CsHeader:
    num_rows, dtype = _csdat_table(path, _read_csdat_json(path, f, size))
    needed = num_rows * dtype.itemsize  # string columns are stored as 8-byte offsets, their itemsize
    if needed > _LZ4_MAX_RATIO * size:
        raise CsFileError(
            path,
            f"damaged CSDAT header: it claims {num_rows:,} rows ({needed:,} bytes of columns), more than a file of "
            f"{size:,} bytes can hold even compressed; copy the file again",
        )
    return CsHeader(path=path, format="csdat", num_rows=num_rows, dtype=dtype, data_offset=None)


def _read_csdat_json(path: str, f: BinaryIO, size: int) -> dict:
    """The JSON header that follows the CSDAT magic ({"length", "dtype", "compression", ...})."""
    (header_len,) = struct.unpack("<I", _read_exact(path, f, 4, "CSDAT header length"))
    available = size - MAGIC_LEN - 4
    if header_len > available:
        raise CsFileError(
            path,
            f"truncated header: CSDAT header says {header_len} bytes but only {available} follow; copy the file again",
        )
    try:
        header = json.loads(f.read(header_len))
    except (ValueError, RecursionError) as err:  # ValueError covers bad UTF-8 and bad JSON
        raise CsFileError(path, f"damaged CSDAT header (not JSON: {_short(err)}); copy the file again") from err
    if not isinstance(header, dict):
        raise CsFileError(path, "damaged CSDAT header (not a JSON object); copy the file again")
    return header


def _csdat_table(path: str, header: dict) -> tuple[int, np.dtype]:
    """Row count and dtype from a decoded CSDAT JSON header."""
    length, columns = header.get("length"), header.get("dtype")
    if not isinstance(length, int) or isinstance(length, bool) or length < 0:
        raise CsFileError(path, f"damaged CSDAT header (bad row count {length!r}); copy the file again")
    if header.get("compression") not in (None, "lz4"):
        raise CsFileError(path, f"CSDAT compression {header.get('compression')!r} is not supported by cryosparc-tools")
    compressed = header.get("compressed_fields", [])
    if not isinstance(compressed, list) or not all(isinstance(name, str) for name in compressed):
        raise CsFileError(path, "damaged CSDAT header (bad compressed_fields); copy the file again")
    try:
        dtype = np.dtype([_csdat_field(column) for column in columns])
    except Exception as err:  # any malformed column list: wrong types, unknown dtype, duplicate names...
        raise CsFileError(path, f"damaged CSDAT header (bad column list: {_short(err)}); copy the file again") from err
    _check_has_uid(path, dtype)
    return length, dtype


def _csdat_field(column: list) -> tuple:
    # CSDAT columns are ["name", "<u4"] or ["name", "<u4", [2]]; "|O" marks string columns.
    if not isinstance(column, list) or len(column) < 2:
        raise ValueError(f"unexpected column entry {column!r}")
    name, dt, *rest = column
    if not isinstance(name, str) or not isinstance(dt, str) or len(rest) > 1:
        raise ValueError(f"unexpected column entry {column!r}")
    return (name, dt, tuple(rest[0])) if rest else (name, dt)


def _check_has_uid(path: str, dtype: np.dtype) -> None:
    if "uid" not in (dtype.names or ()):
        raise CsFileError(path, "has no uid column, so it is not a CryoSPARC dataset")
    uid = dtype["uid"]
    if uid.shape != () or uid.kind not in "ui" or uid.itemsize != 8:
        shape = f" of shape {uid.shape}" if uid.shape else ""
        raise CsFileError(
            path,
            f"its uid column is {uid.base.str}{shape}, not one 64-bit integer per row as CryoSPARC writes it; "
            "the file is damaged or not a CryoSPARC dataset",
        )


def _what_else_is_it(head: bytes, size: int) -> str:
    """Problem text for a file that is not a dataset, naming what it most likely is."""
    if head.startswith(LFS_MAGIC):
        return "this is a Git LFS pointer, not data: run `git lfs pull`"
    if size < MAGIC_LEN and any(m.startswith(head) for m in (NUMPY_MAGIC, CSDAT_MAGIC, OLD_CSDAT_MAGIC)):
        return f"truncated header: only {size} bytes, too short to be a .cs file; copy the file again"
    if _CSG_KEY.search(head.decode("utf-8", errors="replace")):
        return "this looks like a .csg result-group descriptor (YAML), not a .cs dataset; pass the .cs file it names"
    return f"not a CryoSPARC dataset (starts with {head[:16]!r}); expected a .cs file written by CryoSPARC"


def _select(header: CsHeader, fields: Iterable[str] | None, prefixes: Iterable[str] | None) -> list[str]:
    """Requested column names in file order, always with uid; unknown names are an error."""
    if fields is None and prefixes is None:
        return list(header.fields)
    wanted_fields = _as_names(fields)
    wanted_prefixes = _as_names(prefixes)
    missing = [f"field {name!r}" for name in wanted_fields if name not in header.fields]
    missing += [f"prefix {p!r}" for p in wanted_prefixes if not header.fields_of(p)]
    if missing:
        available = ", ".join(header.prefixes) or "(none)"
        raise CsFileError(header.path, f"no {', '.join(missing)} in this file; available prefixes: {available}")
    keep = set(wanted_fields)
    for prefix in wanted_prefixes:
        keep.update(header.fields_of(prefix))
    return [name for name in header.fields if name == "uid" or name in keep]


def _as_names(names: Iterable[str] | None) -> tuple[str, ...]:
    # A bare string would otherwise be split into characters.
    if names is None:
        return ()
    return (names,) if isinstance(names, str) else tuple(names)


def _read_rows(header: CsHeader, names: list[str]) -> np.ndarray:
    """The selected columns of an NPY file, read chunk by chunk with readinto (no memory map);
    a file shorter than its header says, now, is reported as changed while reading."""
    everything = names == list(header.fields)
    itemsize = header.dtype.itemsize
    table = np.empty(header.num_rows, dtype=header.dtype if everything else repack_fields(header.dtype[names]))
    chunk_rows = max(1, READ_CHUNK_BYTES // max(itemsize, 1))
    buffer = None if everything else np.empty(min(chunk_rows, header.num_rows), dtype=header.dtype)
    with _reading(header.path) as f:
        f.seek(header.data_offset)
        for start in range(0, header.num_rows, chunk_rows):
            count = min(chunk_rows, header.num_rows - start)
            target = table[start:start + count] if everything else buffer[:count]
            _read_into(header, f, memoryview(target.view(np.uint8)), start)
            if not everything:
                table[start:start + count] = target[names]
    return table


def _read_into(header: CsHeader, f: BinaryIO, view: memoryview, first_row: int) -> None:
    done = 0
    while done < len(view):
        got = f.readinto(view[done:])
        if not got:
            raise CsFileError(
                header.path,
                f"changed while reading: the header says {header.num_rows:,} rows but the data ends in row "
                f"{first_row + done // max(header.dtype.itemsize, 1):,} (the file was truncated or is still being "
                "written); read it again once it is complete",
            )
        done += got


def _load_csdat(header: CsHeader, names: list[str]) -> np.ndarray:
    """Decode the selected CSDAT columns ourselves.

    cryosparc-tools 5.0.3 `Dataset.load` segfaults (at garbage collection) when an LZ4 block
    fails to decompress after a string column was allocated, and it maps string offsets
    without range checks; so we only borrow its bounds-checked LZ4 decoder.
    """
    wanted = set(names)
    columns: dict[str, np.ndarray] = {}
    with _reading(header.path) as f:
        size = os.fstat(f.fileno()).st_size
        f.seek(MAGIC_LEN)
        compressed = set(_read_csdat_json(header.path, f, size).get("compressed_fields", []))
        for name in header.fields if header.num_rows else ():  # empty datasets store no column blocks
            block_size = struct.unpack("<I", _read_block(header.path, f, 4, name))[0]
            if block_size > size - f.tell():  # checked before reading: read(n) allocates n bytes first
                raise CsFileError(
                    header.path,
                    f"truncated: column {name} claims {block_size:,} bytes but only {size - f.tell():,} follow; "
                    "copy the file again",
                )
            if name in wanted:
                raw = _read_block(header.path, f, block_size, name)
                columns[name] = _decode_column(header, name, raw, name in compressed)
            elif f.seek(block_size, os.SEEK_CUR) > size:
                raise CsFileError(header.path, f"truncated: the data for column {name} is cut off; copy the file again")
        heap = f.read()
    return _assemble(header, names, columns, heap)


def _read_block(path: str, f: BinaryIO, count: int, name: str) -> bytes:
    data = f.read(count)
    if len(data) < count:
        raise CsFileError(path, f"truncated: the data for column {name} is cut off; copy the file again")
    return data


def _decode_column(header: CsHeader, name: str, raw: bytes, compressed: bool) -> np.ndarray:
    """One column's values; string columns come back as uint64 offsets into the heap."""
    from cryosparc.dataset.core import Stream  # the LZ4 decoder bundled with cryosparc-tools

    field = header.dtype[name]
    storage = np.dtype("<u8") if field.hasobject else field.base
    nbytes = header.num_rows * storage.itemsize * int(np.prod(field.shape, dtype=np.int64))
    if nbytes > _LZ4_MAX_RATIO * len(raw) + 64:  # before allocating: no block decompresses to that
        raise _damaged(header, name, f"holds {len(raw):,} bytes, which cannot hold {header.num_rows:,} rows")
    values = np.empty((header.num_rows, *field.shape), dtype=storage)
    if not compressed:
        if len(raw) != values.nbytes:
            raise _damaged(header, name, f"holds {len(raw)} bytes, expected {values.nbytes}")
        values[...] = np.frombuffer(raw, dtype=storage).reshape(values.shape)
        return values
    try:
        produced = len(Stream().decompress_numpy(raw, values))
    except Exception as err:  # the decoder reports corrupt input as ValueError
        raise _damaged(header, name, f"cannot be decompressed ({_short(err)})") from err
    if produced != values.nbytes:
        raise _damaged(header, name, f"decompresses to {produced} bytes, expected {values.nbytes}")
    return values


def _damaged(header: CsHeader, name: str, what: str) -> CsFileError:
    return CsFileError(header.path, f"damaged: column {name} {what}; copy the file again")


def _assemble(header: CsHeader, names: list[str], columns: dict[str, np.ndarray], heap: bytes) -> np.ndarray:
    """Structured array in file order, string offsets resolved to fixed-width bytes."""
    arrays = []
    for name in names:
        values = columns.get(name)
        if values is None:  # zero rows: no data blocks were stored
            values = np.empty((0, *header.dtype[name].shape), dtype=header.dtype[name].base)
        if header.dtype[name].hasobject:
            values = _resolve_strings(header, name, values.astype(np.uint64, copy=False), heap)
        arrays.append(values)
    dtype = np.dtype([(name, values.dtype, values.shape[1:]) for name, values in zip(names, arrays)])
    table = np.empty(header.num_rows, dtype=dtype)
    for name, values in zip(names, arrays):
        table[name] = values
    return table


def _resolve_strings(header: CsHeader, name: str, offsets: np.ndarray, heap: bytes) -> np.ndarray:
    # The heap starts with the empty string, so offset k is heap byte k (0 means ""), up to a NUL.
    # Width is longest + 1 (the NUL), as cryosparc-tools' to_records(fixed=True) makes it.
    unique, inverse = np.unique(offsets, return_inverse=True)
    strings = [b"" if k == 0 else _heap_string(header, name, heap, int(k)) for k in unique]
    width = max((len(s) for s in strings), default=0) + 1
    return np.array(strings, dtype=f"S{width}")[inverse].reshape(offsets.shape)


def _heap_string(header: CsHeader, name: str, heap: bytes, offset: int) -> bytes:
    end = heap.find(b"\0", offset)  # -1 when the offset or the string runs past the end
    if end < 0:
        raise CsFileError(
            header.path, f"truncated: strings of column {name} point past the end of the file; copy the file again"
        )
    return heap[offset:end]


# ---------------------------------------------------------------------------- writing


def save(path: str | os.PathLike[str], array: np.ndarray) -> None:
    """Write `array` as an NPY-format `.cs`, atomically: readers see the old file or the new one."""
    path = os.fspath(path)
    table = _saveable(path, array)
    if os.path.isdir(path):
        raise CsFileError(path, "is a directory; give a file name for the .cs to write")
    if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        raise CsFileError(path, "cannot write: the folder does not exist")
    try:
        with atomic_output(path, overwrite=True) as f:
            # A file handle, not a path: np.save would append ".npy" to a path.
            np.save(f, table, allow_pickle=False)
    except OSError as err:
        raise CsFileError(path, f"cannot write: {_os_reason(err)}") from err
    except CsRebindError as err:  # e.g. the folder is not writable
        raise CsFileError(path, f"cannot write ({err})") from err


def _saveable(path: str, array: np.ndarray) -> np.ndarray:
    """The array packed for writing, or a CsFileError saying why it cannot be a .cs file."""
    array = np.asarray(array)
    if array.dtype.names is None or array.ndim != 1:
        raise CsFileError(
            path,
            f"refusing to save a {array.ndim}-D {array.dtype.str} array; a .cs file holds a 1-D table with named columns",
        )
    objects = _object_fields(array.dtype)
    if objects:
        raise CsFileError(
            path,
            f"refusing to save: columns {', '.join(objects)} hold Python objects; "
            "convert strings to fixed-width bytes (|S) first",
        )
    _check_has_uid(path, array.dtype)
    # Loaded views keep the byte offsets of unselected columns; write only what is named.
    return np.ascontiguousarray(repack_fields(array))


# ---------------------------------------------------------------------------- helpers


def _object_fields(dtype: np.dtype) -> list[str]:
    return [name for name in dtype.names or () if dtype[name].hasobject]


def _short(err: BaseException) -> str:
    # Parser errors can quote a whole garbled header; keep messages readable.
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    return text if len(text) <= 120 else text[:117] + "..."


def _read_exact(path: str, f: BinaryIO, count: int, what: str) -> bytes:
    data = f.read(count)
    if len(data) < count:
        raise CsFileError(path, f"truncated header: the file ends inside the {what}; copy the file again")
    return data


@contextmanager
def _reading(path: str) -> Iterator[BinaryIO]:
    """Open for reading; any OSError (open or read) becomes a CsFileError."""
    try:
        with open(open_regular(path), "rb") as f:  # a FIFO or a device is refused, never waited on
            yield f
    except OSError as err:
        raise CsFileError(path, _os_reason(err)) from err


def _os_reason(err: OSError) -> str:
    if isinstance(err, FileNotFoundError):
        return "no such file or folder; check the path"
    if isinstance(err, IsADirectoryError):
        return "is a directory, not a .cs file; pass a .cs file inside it"
    if isinstance(err, PermissionError):
        return "permission denied; check the file and folder permissions"
    return err.strerror or str(err)
