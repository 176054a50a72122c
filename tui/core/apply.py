"""Live apply: run an edit session's operations on a CryoSPARC instance through cryosparc-tools.

Nothing here imports cryosparc-tools at module import time; the library is imported inside the
functions that talk to a server. Every failure reaches the user as an :class:`ApplyError` or as
an :class:`ApplyReport`, with passwords, licence ids and tokens removed from the text.

Connection settings (the generated script reads the same environment variables)::

    CRYOSPARC_BASE_URL          e.g. http://cryosparc.example.org:39000   (cryosparc-tools 5.x)
    CRYOSPARC_MASTER_HOSTNAME   host name, when no base URL is given (default localhost)
    CRYOSPARC_BASE_PORT         base port, when no base URL is given (default 39000)
    CRYOSPARC_EMAIL             the e-mail you log in to CryoSPARC with
    CRYOSPARC_PASSWORD          your password (or log in once with `python -m cryosparc.tools login`)
    CRYOSPARC_LICENSE_ID        only cryosparc-tools 4.x needs it

These are the names cryosparc-tools 5.0.3 itself reads (``CryoSPARC.__init__`` defaults) plus the
licence variable of the 4.x releases. The config file's ``cryosparc:`` section may give ``url``,
``host``, ``base_port``, ``email`` and ``license``; the environment wins over the file. A password
is never read from a file: only from the environment or an interactive prompt.
"""

from __future__ import annotations

import base64
import hashlib
import inspect
import os
import re
import warnings
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Mapping, Sequence
from urllib.parse import urlsplit

from .errors import CsRebindError
from .model import InputGroup
from .operations import Operation
from .refs import FINAL
from .session import check_plan_header

ENV_URL = "CRYOSPARC_BASE_URL"
ENV_HOST = "CRYOSPARC_MASTER_HOSTNAME"
ENV_PORT = "CRYOSPARC_BASE_PORT"
ENV_EMAIL = "CRYOSPARC_EMAIL"
ENV_PASSWORD = "CRYOSPARC_PASSWORD"
ENV_LICENSE = "CRYOSPARC_LICENSE_ID"
DEFAULT_HOST = "localhost"
DEFAULT_PORT = 39000
BUILDING = "building"
REDACTED = "[redacted]"
MAX_ERROR_CHARS = 2000

# The adapter: the cryosparc-tools 5.x Job (JobController) methods csrebind calls, with their
# parameters in order. Calls are made with these keyword names; tests/test_apply.py compares this
# table with the installed library, so a renamed or reordered parameter fails the tests.
JOB_METHOD_PARAMETERS: dict[str, tuple[str, ...]] = {
    "connect": ("target_input", "source_job_uid", "source_output"),
    "disconnect": ("target_input", "connection_idx"),
    "connect_result": (
        "target_input", "connection_idx", "slot", "source_job_uid", "source_output", "source_result", "source_version",
    ),
    "disconnect_result": ("target_input", "connection_idx", "slot"),
}
# Parameters with a default in the library (every other one is required). ``disconnect`` with
# no index clears *every* connection of the input, so csrebind always passes the index.
JOB_METHOD_DEFAULTS: dict[tuple[str, str], Any] = {
    ("connect_result", "source_version"): FINAL,
    ("disconnect", "connection_idx"): None,
}
VERSION_PARAMETER = "source_version"


class ApplyError(CsRebindError):
    """Live apply was refused or could not start; nothing was changed unless ``report`` says so."""

    def __init__(self, message: str, report: "ApplyReport | None" = None) -> None:
        super().__init__(message)
        self.report = report


# --- secrets ------------------------------------------------------------------------------------

_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s]+@")
_KEY_VALUE = re.compile(
    r"(?i)(\b(?:password|passwd|license(?:_id)?|licence|token|access_token|refresh_token|secret|api_key)"
    r"[\"']?\s*[:=]\s*[\"']?)([^\s\"',;&}]+)"
)
_AUTH_HEADER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")


def _derived_secrets(secret: str, email: str | None) -> list[str]:
    """The forms a secret can take on the wire: cryosparc-tools sends sha256(password) as the
    basic-auth password, so an error echoing a request may show the digest or the header."""
    digest = hashlib.sha256(secret.encode()).hexdigest()
    forms = [secret, digest]
    for user in filter(None, (email, "cryosparc")):
        forms.append(base64.b64encode(f"{user}:{digest}".encode()).decode())
    return forms


def redact(text: object, secrets: Iterable[str | None] = (), *, environ: Mapping[str, str] | None = None) -> str:
    """``text`` with every known secret replaced by ``[redacted]``: the given ones, the password and
    licence in the environment (and their sha256 forms), credentials in URLs, ``password=…``
    style pairs and Authorization header values."""
    environ = os.environ if environ is None else environ
    email = environ.get(ENV_EMAIL)
    known: set[str] = set()
    for secret in [*secrets, environ.get(ENV_PASSWORD), environ.get(ENV_LICENSE)]:
        if secret:
            known.update(_derived_secrets(secret, email))
    result = str(text)
    for secret in sorted(known, key=len, reverse=True):
        result = result.replace(secret, REDACTED)
    result = _URL_USERINFO.sub(rf"\1{REDACTED}@", result)
    result = _KEY_VALUE.sub(rf"\1{REDACTED}", result)
    return _AUTH_HEADER.sub(rf"\1 {REDACTED}", result)


def error_text(exc: BaseException, secrets: Iterable[str | None] = ()) -> str:
    """One readable, redacted line (or a few) for an exception from the client."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (Ctrl-C); this operation may or may not have reached CryoSPARC"
    message = str(exc).strip()
    name = type(exc).__name__
    text = f"{name}: {message}" if message else name
    text = redact(text, secrets)
    if len(text) > MAX_ERROR_CHARS:
        text = text[:MAX_ERROR_CHARS] + " …"
    return text


# --- connection settings --------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class ConnectionSettings:
    """Where and as whom to connect. ``repr``/``str`` never show the password or licence."""

    url: str | None = None
    host: str | None = None
    base_port: int | None = None
    email: str | None = None
    password: str | None = field(default=None, compare=False)
    license: str | None = field(default=None, compare=False)
    warnings: tuple[str, ...] = ()

    @classmethod
    def from_sources(
        cls,
        config: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
        prompt: Callable[[str], str | None] | None = None,
    ) -> "ConnectionSettings":
        """Settings from the environment, then the config file's ``cryosparc:`` mapping. With
        ``prompt`` (e.g. ``getpass.getpass``) the password is asked for when the environment has none."""
        environ = os.environ if environ is None else environ
        if config is not None and not isinstance(config, Mapping):
            raise ApplyError("config: the 'cryosparc' section must be a mapping (url, host, base_port, email, license)")
        config = dict(config or {})
        notes: list[str] = []
        aliases = {"base_url": "url", "hostname": "host", "port": "base_port"}
        values: dict[str, Any] = {}
        for key, value in config.items():
            key = aliases.get(str(key), str(key))
            if key in ("password", "passwd"):
                notes.append("config: a password in the config file is ignored; set CRYOSPARC_PASSWORD, "
                             "enter it when asked, or log in once with `python -m cryosparc.tools login`")
            elif key in ("url", "host", "base_port", "email", "license"):
                if value is not None and value != "":
                    values[key] = value
            else:
                notes.append(f"config: unknown cryosparc setting {key!r} ignored "
                             "(known: url, host, base_port, email, license)")
        for key, variable in (("url", ENV_URL), ("host", ENV_HOST), ("base_port", ENV_PORT),
                              ("email", ENV_EMAIL), ("license", ENV_LICENSE)):
            if environ.get(variable):
                values[key] = environ[variable]
        url = _clean_url(values.get("url"))
        port = _port(values.get("base_port"))
        host = str(values["host"]).strip() if values.get("host") else None
        if url and (host or port):
            notes.append(f"cryosparc: url {_redact_url(url)} is used; host and base_port are ignored")
            host, port = None, None
        email = str(values["email"]).strip() if values.get("email") else None
        license_id = str(values["license"]).strip() if values.get("license") else None
        password = environ.get(ENV_PASSWORD) or None
        settings = cls(url, host, port, email, password, license_id, tuple(notes))
        if password is None and prompt is not None:
            answer = prompt(f"CryoSPARC password for {email or 'your account'} at {settings.target}: ")
            if answer:
                settings = settings.with_password(answer)
        return settings

    def with_password(self, password: str | None) -> "ConnectionSettings":
        return replace(self, password=password or None)

    @property
    def target(self) -> str:
        """The base URL connected to (credentials in it removed)."""
        if self.url:
            return _redact_url(self.url)
        return f"http://{self.host or DEFAULT_HOST}:{self.base_port or DEFAULT_PORT}"

    @property
    def secrets(self) -> list[str]:
        found = [s for s in (self.password, self.license) if s]
        if self.url:
            userinfo = urlsplit(self.url).netloc.rpartition("@")[0]
            if userinfo:
                found.extend(p for p in (userinfo, *userinfo.split(":", 1)) if p)
        return found

    def redact(self, text: object) -> str:
        secrets: list[str] = []
        for secret in self.secrets:
            secrets.extend(_derived_secrets(secret, self.email))
        return redact(text, secrets)

    def client_kwargs(self, accepted: Iterable[str] | None = None) -> dict[str, Any]:
        """Keyword arguments for ``cryosparc.tools.CryoSPARC``, limited to the ``accepted``
        parameter names (5.x takes ``base_url``; 4.x takes ``license``, ``host``, ``base_port``).
        Everything is passed explicitly, because 5.x reads its defaults from the environment
        when the library is imported and refuses ``base_url`` together with ``host``."""
        accepted = set(accepted) if accepted is not None else {"base_url", "host", "base_port", "email", "password",
                                                                "license"}
        kwargs: dict[str, Any] = {}
        if self.url and "base_url" in accepted:
            kwargs["base_url"] = self.url
            kwargs.update({k: None for k in ("host", "base_port") if k in accepted})
        else:
            host, port = self.host, self.base_port
            if self.url:  # a library without base_url (4.x): take host and port from the URL
                parts = urlsplit(self.url)
                host, port = parts.hostname, parts.port
            kwargs["host"] = host or DEFAULT_HOST
            kwargs["base_port"] = port or DEFAULT_PORT
        kwargs["email"] = self.email
        kwargs["password"] = self.password
        if self.license and "license" in accepted:
            kwargs["license"] = self.license
        return {k: v for k, v in kwargs.items() if k in accepted}

    def describe(self) -> str:
        who = self.email or "no e-mail set"
        if self.password:
            how = "password given"
        else:
            how = "no password: a saved `python -m cryosparc.tools login` session is needed"
        return f"{self.target} as {who} ({how})"

    def __repr__(self) -> str:
        return (
            f"ConnectionSettings(url={_redact_url(self.url) if self.url else None!r}, host={self.host!r}, "
            f"base_port={self.base_port!r}, email={self.email!r}, "
            f"password={'<set>' if self.password else None}, license={'<set>' if self.license else None})"
        )

    __str__ = describe


def _clean_url(value: Any) -> str | None:
    if value is None or value == "":
        return None
    url = str(value).strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ApplyError(f"CryoSPARC url {_redact_url(url)!r} is not valid: expected e.g. http://cryosparc.example.org:39000")
    return url


def _redact_url(url: str) -> str:
    return _URL_USERINFO.sub(rf"\1{REDACTED}@", url)


def _port(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        port = int(str(value).strip())
    except ValueError:
        port = -1
    if not 0 < port < 65536:
        raise ApplyError(f"CryoSPARC base_port {value!r} is not valid: expected a port number such as 39000")
    return port


# --- the adapter ----------------------------------------------------------------------------------


def call_arguments(op: Operation, *, source_version: bool = True) -> tuple[str, dict[str, Any]]:
    """The Job method and keyword arguments that carry out ``op``. With ``source_version=False``
    (a library whose ``connect_result`` has no version parameter) the version is left out,
    which only a final (``F``) version allows."""
    kind = op.kind
    if kind not in JOB_METHOD_PARAMETERS:
        raise ApplyError(f"unknown operation {kind!r}")
    if kind == "connect":
        values: tuple[Any, ...] = (op.input, op.source_job, op.source_output)
    elif kind == "disconnect":
        values = (op.input, op.connection)
    elif kind == "connect_result":
        if op.source is None:
            raise ApplyError(f"{op.describe()}: the operation names no source result")
        src = op.source
        values = (op.input, op.connection, op.slot, src.job, src.output, src.result, src.version)
    else:
        values = (op.input, op.connection, op.slot)
    kwargs = dict(zip(JOB_METHOD_PARAMETERS[kind], values))
    missing = [name for name, value in kwargs.items() if value is None]
    if missing:  # a disconnect without an index would clear every connection of the input
        raise ApplyError(f"{op.describe()}: incomplete operation (no {', '.join(missing)})")
    if kind == "connect_result" and not source_version:
        if kwargs[VERSION_PARAMETER] != FINAL:
            raise ApplyError(_version_message([op]))
        del kwargs[VERSION_PARAMETER]
    return kind, kwargs


def installed_tools_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("cryosparc-tools")
    except Exception:  # not installed, or odd metadata
        return None


def installed_job_api() -> type | None:
    """The installed cryosparc-tools Job class: ``JobController`` (5.x) or ``Job`` (4.x)."""
    try:
        from cryosparc.controllers.job import JobController

        return JobController
    except ImportError:
        pass
    try:
        from cryosparc.job import Job  # type: ignore[import-not-found]

        return Job
    except ImportError:
        return None


def _signature(api: Any, name: str) -> inspect.Signature | None:
    """Signature of ``api.name`` without ``self``, for a class or an instance."""
    method = getattr(api, name, None)
    if method is None or not callable(method):
        return None
    try:
        signature = inspect.signature(method)
    except (TypeError, ValueError):
        return None
    if inspect.isclass(api):
        parameters = list(signature.parameters.values())[1:]
        signature = signature.replace(parameters=parameters)
    return signature


def accepts_source_version(api: Any) -> bool:
    """Whether ``api.connect_result`` (a Job class or object) takes ``source_version``."""
    signature = _signature(api, "connect_result")
    return signature is not None and VERSION_PARAMETER in signature.parameters


def _version_message(ops: Sequence[Operation]) -> str:
    refs = ", ".join(str(op.source) for op in ops)
    version = installed_tools_version() or "unknown"
    return (
        f"the installed cryosparc-tools ({version}) cannot connect a specific version: its "
        f"Job.connect_result has no source_version parameter, so it always connects the final one. "
        f"Needed for: {refs}. Install cryosparc-tools 5.x to match CryoSPARC 5, or choose version F"
    )


def unsupported(ops: Sequence[Operation], api: Any) -> str | None:
    """Why ``api`` (the installed Job class, or the job object) cannot run ``ops``; None if it can.
    Every call is bound to the method's real signature, so nothing is sent that would not fit."""
    versioned = [op for op in ops if op.kind == "connect_result" and op.source is not None and op.source.version != FINAL]
    with_version = accepts_source_version(api)
    if versioned and not with_version:
        return _version_message(versioned)
    for op in ops:
        name, kwargs = call_arguments(op, source_version=with_version)
        signature = _signature(api, name)
        if signature is None:
            version = installed_tools_version() or "unknown"
            added = " (added in cryosparc-tools 4.7.1)" if name.endswith("_result") else ""
            return f"the installed cryosparc-tools ({version}) has no Job.{name}{added}; it is needed to {op.describe()}"
        try:
            signature.bind(**kwargs)
        except TypeError as exc:
            return f"Job.{name}{signature} does not accept {sorted(kwargs)} ({exc}); cannot {op.describe()}"
    return None


def job_status(job: Any) -> str | None:
    """``job.status`` (5.x property over ``job.model.status``; 4.x property), else the model's."""
    for getter in (lambda: job.status, lambda: job.model.status, lambda: job.doc["status"]):
        try:
            value = getter()
        except Exception:
            continue
        if isinstance(value, str):
            return value
    return None


def server_differences(job: Any, loaded: Sequence[InputGroup], inputs: Iterable[str]) -> list[str] | None:
    """Where the server's connections of ``inputs`` differ from ``loaded`` (what csrebind read
    from job.json and planned against). None when the job object does not expose its inputs
    in the 5.x shape (``job.inputs[name].connections``), so no comparison could be made."""
    try:
        server_inputs = job.inputs
        if not isinstance(server_inputs, Mapping):
            return None
    except Exception:
        return None
    local = {g.name: g for g in loaded}
    found: list[str] = []
    for name in sorted(set(inputs)):
        group = local.get(name)
        server = server_inputs.get(name)
        if group is None:
            continue
        if server is None:
            found.append(f"input {name} does not exist in CryoSPARC")
            continue
        try:
            connections = list(server.connections)
            ours = [(c.job, c.output) for c in group.connections]
            theirs = [(c.job_uid, c.output) for c in connections]
            if ours != theirs:
                found.append(f"input {name}: CryoSPARC has {_sources(theirs)}, job.json has {_sources(ours)}")
                continue
            for index, (mine, other) in enumerate(zip(group.connections, connections)):
                slots = {r.name: f"{r.job_uid}.{r.output}.{r.result}.{r.version}" for r in other.results if r.name}
                for binding in mine.slot_bindings:
                    if slots.get(binding.slot) != str(binding.ref):
                        found.append(f"{name}.{index}.{binding.slot}: CryoSPARC has "
                                     f"{slots.get(binding.slot) or '(empty)'}, job.json has {binding.ref}")
        except Exception:
            return None
    return found


def _sources(pairs: list[tuple[str, str]]) -> str:
    return ", ".join(f"{j}.{o}" for j, o in pairs) or "no connections"


# --- the report -----------------------------------------------------------------------------------


@dataclass
class ApplyReport:
    """What a live apply did: operations applied, the one that failed, the ones not attempted."""

    project: str
    target: str
    server: str = ""
    applied: list[Operation] = field(default_factory=list)
    failed: list[Operation] = field(default_factory=list)
    not_attempted: list[Operation] = field(default_factory=list)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.not_attempted and self.error is None

    @property
    def total(self) -> int:
        return len(self.applied) + len(self.failed) + len(self.not_attempted)

    def summary(self) -> str:
        where = f"{self.target} in project {self.project}" + (f" at {self.server}" if self.server else "")
        lines: list[str] = []
        if self.ok:
            if not self.applied:
                lines.append(f"Nothing to apply to {where}.")
            else:
                lines.append(f"Applied all {len(self.applied)} operation(s) to {where}.")
        elif not self.applied and not self.failed:
            lines.append(f"Nothing was changed on {where}: {self.error or 'not applied'}")
        else:
            lines.append(f"Stopped after an error: {len(self.applied)} of {self.total} operation(s) applied to {where}.")
            if self.applied:
                lines.append(f"{self.target} is now partly changed; fix the problem and apply the rest, "
                             "or undo the applied operations in CryoSPARC.")
        for op in self.applied:
            lines.append(f"  applied        {op.describe()}")
        for op in self.failed:
            lines.append(f"  FAILED         {op.describe()}")
            if self.error:
                lines.extend(f"                 {line}" for line in self.error.splitlines())
        for op in self.not_attempted:
            lines.append(f"  not attempted  {op.describe()}")
        lines.extend(f"  warning: {w}" for w in self.warnings)
        return "\n".join(lines)

    __str__ = summary


# --- applying -------------------------------------------------------------------------------------


ClientFactory = Callable[[ConnectionSettings], Any]


def default_client_factory(settings: ConnectionSettings) -> Any:
    """A ``cryosparc.tools.CryoSPARC`` connected with ``settings`` (imported here, not at load)."""
    from cryosparc.tools import CryoSPARC

    accepted = set(inspect.signature(CryoSPARC.__init__).parameters) - {"self"}
    return CryoSPARC(**settings.client_kwargs(accepted))


def plan_target(plan: Any) -> tuple[str, str]:
    check_plan_header(plan)
    project = (plan.get("project") or {}).get("uid") if isinstance(plan.get("project"), dict) else None
    target = plan.get("target")
    if not isinstance(project, str) or not re.fullmatch(r"P[0-9]+", project):
        raise ApplyError("the plan names no CryoSPARC project uid (e.g. P3); the project's project.json "
                         "must give it before a plan can be applied to a live instance")
    if not isinstance(target, str) or not re.fullmatch(r"J[0-9]+", target):
        raise ApplyError("the plan names no target job uid (e.g. J12)")
    return project, target


def apply_plan(
    plan: Mapping[str, Any],
    ops: Sequence[Operation],
    *,
    settings: ConnectionSettings | None = None,
    client_factory: ClientFactory | None = None,
    status_check: bool = True,
    loaded: Sequence[InputGroup] | None = None,
) -> ApplyReport:
    """Run ``ops`` (from :func:`tui.core.operations.operations`) on the plan's target job.

    Refused with :class:`ApplyError`, before any change, when: the plan is not valid; the
    installed cryosparc-tools cannot make one of the calls (e.g. a version other than F without
    ``source_version``); the server cannot be reached or has no such job; the job is not in
    ``building`` status (unless ``status_check`` is False); or, with ``loaded`` (the inputs as
    csrebind read them), the server's connections differ from those. Otherwise the operations
    run in order and the first failure stops the run; the returned report says exactly which
    operations were applied, which failed and which were not attempted."""
    project_uid, target = plan_target(plan)
    ops = list(ops)
    settings = settings if settings is not None else ConnectionSettings.from_sources()
    report = ApplyReport(project_uid, target, settings.target, not_attempted=list(ops),
                         warnings=list(settings.warnings))

    def refuse(message: str) -> ApplyError:
        report.error = settings.redact(message)
        return ApplyError(report.error, report)

    if not ops:
        return report
    for op in ops:
        call_arguments(op)  # refuses incomplete operations before anything is sent
    library = installed_job_api()
    if library is not None:
        problem = unsupported(ops, library)
        if problem:
            raise refuse(problem)

    factory = client_factory or default_client_factory
    failure: str | None = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            client = factory(settings)
            job = client.find_project(project_uid).find_job(target)
        except (Exception, KeyboardInterrupt) as exc:
            failure = f"cannot reach {target} in project {project_uid} at {settings.target}: " \
                      f"{error_text(exc, settings.secrets)}"
    report.warnings.extend(settings.redact(str(w.message)).splitlines()[0] for w in caught if str(w.message).strip())
    if failure is not None:  # raised outside the handler: no traceback chain holding secrets
        raise refuse(failure)

    if status_check:
        status = job_status(job)
        if status != BUILDING:
            raise refuse(
                f"{target} is {status or 'of unknown status'} in CryoSPARC; only a job in building status can "
                "be changed. Clear the job or clone it (the clone is building), then apply to that job."
            )
    problem = unsupported(ops, job)
    if problem:
        raise refuse(problem)
    if loaded is not None:
        differences = server_differences(job, loaded, {op.input for op in ops})
        if differences:
            raise refuse(
                f"{target} in CryoSPARC no longer matches the job.json csrebind planned against: "
                + "; ".join(differences) + ". Reload the project and make the edits again."
            )
        if differences is None:
            report.warnings.append("the server's current connections could not be compared with job.json")

    with_version = accepts_source_version(job)
    for index, op in enumerate(ops):
        name, kwargs = call_arguments(op, source_version=with_version)
        error: str | None = None
        try:
            getattr(job, name)(**kwargs)
        except (Exception, KeyboardInterrupt) as exc:
            error = error_text(exc, settings.secrets)
        if error is not None:
            report.failed = [op]
            report.not_attempted = ops[index + 1:]
            report.error = settings.redact(error)
            return report
        report.applied.append(op)
        report.not_attempted = ops[index + 1:]
    return report
