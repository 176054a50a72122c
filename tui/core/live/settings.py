"""Where and as whom live apply connects, and keeping secrets out of every message.

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
import os
import re
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import urlsplit

from ..errors import ApplyError

ENV_URL = "CRYOSPARC_BASE_URL"
ENV_HOST = "CRYOSPARC_MASTER_HOSTNAME"
ENV_PORT = "CRYOSPARC_BASE_PORT"
ENV_EMAIL = "CRYOSPARC_EMAIL"
ENV_PASSWORD = "CRYOSPARC_PASSWORD"
ENV_LICENSE = "CRYOSPARC_LICENSE_ID"
DEFAULT_HOST = "localhost"
DEFAULT_PORT = 39000
REDACTED = "[redacted]"
MAX_ERROR_CHARS = 2000


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
