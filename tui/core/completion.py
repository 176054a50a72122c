"""Tab completion for the ``:`` line, with no terminal attached.

:func:`complete` takes the text before the cursor and what the line can refer to (the project,
the target's edit session, the folder relative paths start from) and returns the candidates for
the word being typed and the text completed as far as they all agree:

* the command (``ya⇥`` → ``yank``), from the command table;
* job uids for ``target`` and ``job`` (``j5`` and ``5`` are read as ``J5``);
* ``JOB.OUTPUT.RESULT[.VERSION]`` for ``yank``, part by part (``J5.par⇥`` → ``J5.particles.``),
  from that one job's outputs; versions by value, F first, then newest first;
* ``INPUT.N.SLOT`` for ``put``, ``put!``, ``candidates`` and ``clear``, from the target's inputs;
  an input and a connection index for ``connect``;
* the route, ``--force`` / ``--into-imports`` and the path for ``write`` (a folder for
  ``write export``, a file for ``write plan`` and ``write script``), ``~`` kept as typed.

Words are read as the command line reads them (:func:`shlex.split`): a path with a space is
completed with the space escaped, or inside the quote the user opened.
"""

from __future__ import annotations

import heapq
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .commands import BY_NAME, INTO_IMPORTS, LINE_COMMANDS, WRITE_ARGS
from .project import Project
from .session import EditSession

FLAGS = ("--force", INTO_IMPORTS)
ROUTES = tuple(route for route in WRITE_ARGS if " " not in route)  # export, plan, script, apply
_SHORT_UID = re.compile(r"[jJ]?([0-9]*)")
_ESCAPED = re.compile(r"([\s'\"\\])")


@dataclass(frozen=True)
class Candidate:
    value: str  # the whole word, unescaped: "J5.particles.blob", "/data/exports/"
    label: str  # what the hint shows: "blob", "exports/"
    final: bool = True  # the word is complete: choosing it adds a space (a folder or "J5." is not)


@dataclass(frozen=True)
class CompletionContext:
    project: Project | None = None
    session: EditSession | None = None  # the target's: slots and inputs
    cwd: Path | None = None  # where relative paths start (None: the current directory)


@dataclass(frozen=True)
class Completion:
    """The candidates for the word before the cursor, and the line completed with them."""

    before: str  # the text before the cursor, as given
    start: int  # where the word being completed begins in ``before``
    word: str  # that word as shlex reads it (quotes and escapes removed)
    quote: str | None  # the quote the word is inside, if it opened one and did not close it
    candidates: tuple[Candidate, ...] = ()

    @property
    def common(self) -> str:
        """What every candidate agrees on (at least the typed word, normalised: ``j5`` → ``J5``)."""
        if not self.candidates:
            return self.word
        common = os.path.commonprefix([c.value for c in self.candidates])
        return common if len(common) >= len(self.word) else self.word

    @property
    def text(self) -> str:
        """``before`` completed: the one candidate (with a space after a complete word), or as far
        as all the candidates agree."""
        if len(self.candidates) == 1:
            return self.choose(0)
        if self.common == self.word:
            return self.before
        return self.before[: self.start] + _typed(self.common, self.quote)

    def choose(self, index: int) -> str:
        """``before`` with the word replaced by candidate ``index`` (for cycling through them)."""
        candidate = self.candidates[index]
        completed = _typed(candidate.value, self.quote, close=candidate.final)
        return self.before[: self.start] + completed + (" " if candidate.final else "")

    @property
    def labels(self) -> list[str]:
        return [c.label for c in self.candidates]


def complete(before: str, context: CompletionContext | None = None) -> Completion:
    """The completion of the word that ends at the end of ``before`` (the text left of the cursor)."""
    context = context or CompletionContext()
    lead = len(before) - len(before.lstrip().lstrip(":"))  # the : line takes ":yank" too
    words, word, start, quote = _split(before, lead)
    found = Completion(before, start, word, quote)
    if not words:
        return _with(found, _commands(word))
    spec = BY_NAME.get(words[0])
    if spec is None:
        return found
    args = words[1:]
    if spec.id == "write":
        return _with(found, _write(args, word, context))
    if len(args) >= spec.max_args:
        return found
    if spec.id in ("target", "job"):
        return _with(found, _jobs(context.project, word, suffix=""))
    if spec.id == "yank":
        return _with(found, _references(context.project, word))
    if spec.id in ("put", "put-force", "candidates", "clear-slot"):
        return _with(found, _slots(context.session, word))
    if spec.id == "put-group":
        return _with(found, _connect(context.session, args, word))
    return found


# --- what each argument can be --------------------------------------------------------------------


def _commands(word: str) -> list[Candidate]:
    return [Candidate(s.name, s.name) for s in LINE_COMMANDS if s.name.startswith(word)]


def job_uid_prefix(word: str) -> str | None:
    """``J5``, ``j5`` and ``5`` as the start of a job uid (``J5``); None for anything else."""
    match = _SHORT_UID.fullmatch(word)
    return "J" + match.group(1) if match else None


def matching_jobs(project: Project | None, prefix: str, limit: int | None = None) -> list[str]:
    """The uids of ``project`` beginning with ``prefix`` (``J5``: J5, J50…), by number; the
    first ``limit`` only when given (the palette's, on 50,000 jobs)."""
    if project is None:
        return []
    uids = (uid for uid in project.jobs if uid.startswith(prefix))
    key = _uid_number
    return heapq.nsmallest(limit, uids, key=key) if limit is not None else sorted(uids, key=key)


def _uid_number(uid: str) -> tuple[int, str]:
    return (int(uid[1:]) if uid[1:].isdigit() else -1, uid)


def _jobs(project: Project | None, word: str, suffix: str) -> list[Candidate]:
    prefix = job_uid_prefix(word)
    if prefix is None:
        return []
    return [Candidate(uid + suffix, uid, final=not suffix) for uid in matching_jobs(project, prefix)]


def _references(project: Project | None, word: str) -> list[Candidate]:
    """``JOB.OUTPUT.RESULT[.VERSION]``, one part at a time; only the named job's outputs are read."""
    parts = word.split(".")
    if len(parts) == 1:
        return _jobs(project, word, suffix=".")
    prefix = job_uid_prefix(parts[0])
    job = project.jobs.get(prefix) if project is not None and prefix else None
    if job is None or len(parts) > 4:
        return []
    outputs = job.outputs  # the one job whose uid was typed in full
    if len(parts) == 2:
        return [Candidate(f"{job.uid}.{o.name}.", o.name + ".", final=False)
                for o in outputs if o.name.startswith(parts[1])]
    group = job.output(parts[1])
    if group is None:
        return []
    if len(parts) == 3:
        return [Candidate(f"{job.uid}.{group.name}.{r.name}", r.name, final=False)
                for r in group.results if r.name.startswith(parts[2])]
    result = group.result(parts[2])
    if result is None or not result.complete:
        return []
    versions = ["F", *(str(v) for v in reversed(result.versions))]
    return [Candidate(f"{job.uid}.{group.name}.{result.name}.{v}", v) for v in versions if v.startswith(parts[3])]


def _slots(session: EditSession | None, word: str) -> list[Candidate]:
    """``INPUT.N.SLOT`` of the target's existing connections (``J12.`` before it, if typed so)."""
    if session is None:
        return []
    named = f"{session.target.uid}."
    job = named if job_uid_prefix(word.split(".")[0]) and word.startswith(named) else ""
    addresses = [f"{job}{group.name}.{index}.{slot.name}"
                 for group in session.inputs for index in range(len(group.connections)) for slot in group.slots]
    return [Candidate(a, a) for a in addresses if a.startswith(word)]


def _connect(session: EditSession | None, args: list[str], word: str) -> list[Candidate]:
    """``connect INPUT [N]``: an input of the target, then one of its connections."""
    if session is None:
        return []
    if not args:
        return [Candidate(g.name, g.name) for g in session.inputs if g.name.startswith(word)]
    group = next((g for g in session.inputs if g.name == args[0]), None)
    indexes = [str(i) for i in range(len(group.connections))] if group is not None else []
    return [Candidate(i, i) for i in indexes if i.startswith(word)]


def _write(args: list[str], word: str, context: CompletionContext) -> list[Candidate]:
    """``write ROUTE …``: the route, a flag, or the folder (export) or file (plan, script)."""
    positional = [a for a in args if a not in FLAGS]
    into_imports = INTO_IMPORTS in args
    if word.startswith("-"):
        offered = [f for f in FLAGS if f not in args and (f != INTO_IMPORTS or positional in ([], ["export"]))]
        return [Candidate(f, f) for f in offered if f.startswith(word)]
    if not positional:
        return [Candidate(r, r) for r in ROUTES if r.startswith(word) and (not into_imports or r == "export")]
    route = positional[0]
    if len(positional) == 1 and not into_imports and route in ("export", "plan", "script"):
        return paths(word, context.cwd, folders_only=route == "export")
    return []  # NAME, or nothing more


def paths(word: str, cwd: Path | None = None, folders_only: bool = False) -> list[Candidate]:
    """The files and folders whose path begins with ``word`` (relative to ``cwd``; ``~`` is the
    home folder and stays as typed). Hidden ones only when the name typed starts with a dot."""
    if word == "~":
        return [Candidate("~/", "~/", final=False)]
    expanded = os.path.expanduser(word) if word.startswith("~") else word
    head, name = os.path.split(expanded)
    typed_head = word[: len(word) - len(name)]
    folder = Path(head or ".")
    if not folder.is_absolute():
        folder = (cwd or Path.cwd()) / folder
    found: list[Candidate] = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if not entry.name.startswith(name) or (entry.name.startswith(".") and not name.startswith(".")):
                    continue
                try:
                    is_folder = entry.is_dir()
                except OSError:
                    continue
                if is_folder:
                    found.append(Candidate(f"{typed_head}{entry.name}/", entry.name + "/", final=False))
                elif not folders_only:
                    found.append(Candidate(typed_head + entry.name, entry.name))
    except OSError:
        return []
    return sorted(found, key=lambda c: c.value)


# --- reading and writing words as the : line's parser does ----------------------------------------


def _with(found: Completion, candidates: list[Candidate]) -> Completion:
    return Completion(found.before, found.start, found.word, found.quote, tuple(candidates))


def _split(text: str, start: int = 0) -> tuple[list[str], str, int, str | None]:
    """The complete words of ``text[start:]`` (as shlex reads them), the word being typed at its
    end, where that word begins, and the quote it is inside (None when none is open)."""
    words: list[str] = []
    current: list[str] = []
    in_word = False
    word_start = len(text)
    quote: str | None = None
    index = start
    while index < len(text):
        char = text[index]
        if quote is not None:
            if char == quote:
                quote = None
            elif char == "\\" and quote == '"' and index + 1 < len(text) and text[index + 1] in '"\\':
                index += 1
                current.append(text[index])
            else:
                current.append(char)
        elif char.isspace():
            if in_word:
                words.append("".join(current))
                current, in_word = [], False
        else:
            if not in_word:
                in_word, word_start = True, index
            if char in "'\"":
                quote = char
            elif char == "\\":
                if index + 1 < len(text):
                    index += 1
                    current.append(text[index])
            else:
                current.append(char)
        index += 1
    if not in_word:
        word_start = len(text)
    return words, "".join(current), word_start, quote


def _typed(value: str, quote: str | None, close: bool = False) -> str:
    """``value`` as it is typed on the line: escaped, or inside the quote the user opened."""
    if quote == "'" and "'" not in value:
        return f"'{value}" + ("'" if close else "")
    if quote == '"':
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}' + ('"' if close else "")
    return _ESCAPED.sub(r"\\\1", value)
