"""Export one input of a target job as CryoSPARC would load it: ``NAME.cs`` + ``NAME.csg``.

The result can be brought back into CryoSPARC with Import Result Group (cryosparc-data.md §9,
§11.4). Per connection of the input, every slot binding and every passthrough binding is
resolved to its metafile (by version value, §4); the columns of that result (prefix = result
name, exact ``name/`` match) are taken and renamed to the slot name where they differ
(``alignments_class_2/…`` → ``alignments3D/…``); passthroughs keep their result name and never
override an explicitly bound slot. Files shared by several results are read once. Rows are
inner-joined on ``uid`` in the order of the connection's source output; several connections
are stacked in connection order, as cryosparc-tools' ``Dataset.append_many`` stacks them: the
fields every connection has with the same type are kept, the others dropped and listed, and
repeated uids refused unless the input allows repeats (``repeat_allowed``). When asked
(``MatchSpec``, ``--match``), a rebound slot's result is matched many-to-one on another key than
uid — ``sym_expand/src_uid``, the pick location, or ``blob/path`` + ``blob/idx`` — for particles
symmetry-expanded or extracted twice (match.py); the connection keeps its uids and row order.

Three steps, each usable alone (the UI shows the report before anything is written), one
module each:

``lay_out_export``  (layout.py) headers only: which files, which columns, renames, row counts.
``prepare_export``  (join.py, held by write.py) reads the ``uid`` columns and joins them: rows
                    kept and dropped per file.
``PreparedExport.write`` / ``run_export``  (write.py) streams the rows out and writes the ``.csg``.

Speed and memory: sources are never loaded whole, nor memory-mapped (a map of a file truncated
while it is read kills the process with SIGBUS): they are read block by block with ``readinto``
into one reused buffer, and a file shorter than its header says is reported. The join is numpy
sorting and searching on uint64 uids (no per-row Python; the uids are sorted as integers packed
with their row numbers, several times faster than an argsort). The output is written in chunks,
a writer thread appending each to the temporary file while the next is filled, and having the
kernel start writing it to disk. The pivot file (the output's row order) is read along with the
chunks; a file in another order is read in passes, each staging the bytes the output takes from
it for the next rows of the output, in output order (each file row finds its output row by an
inverse scatter, no sort), from where the chunks copy them as slices. The staging arrays, sized
from the output (0.3 of it, or what keeps the process near 0.6 of it), and the uid
columns (8-16 bytes per source row) are the memory the export takes, whatever the width of the
files.
"""

from .join import ExportReport, JoinedConnection, SourceReport, join_connection
from .layout import Column, ConnectionLayout, ExportLayout, SourceLayout, lay_out_export
from .match import DEFAULT_TOLERANCE, MATCH_MODES, MatchSpec
from .rows import PATH_MODES, PathMode
from .write import PreparedExport, Progress, default_name, prepare_export, run_export

__all__ = [
    "DEFAULT_TOLERANCE", "MATCH_MODES", "MatchSpec",
    "PATH_MODES", "Column", "ConnectionLayout", "ExportLayout", "ExportReport", "JoinedConnection", "PathMode",
    "PreparedExport", "join_connection",
    "Progress", "SourceLayout", "SourceReport", "default_name", "lay_out_export", "prepare_export", "run_export",
]
