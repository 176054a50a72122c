"""Live apply and the generated cryosparc-tools script.

CryoSPARC is commercial and cannot run here, so the server is a recording stand-in whose
methods carry the *installed* cryosparc-tools signatures (JobController, ProjectController,
CryoSPARC.__init__, and for ``cs.api.jobs.reconnect`` the library's own declaration in
``cryosparc/api.pyi``): every call is bound with ``inspect.Signature.bind`` against the real
library, so a misspelled keyword or a missing argument fails the test. Given the job's groups,
the stand-in also keeps the connections as a server would (:class:`ServerState`), so a test can
check what a sequence of calls leaves behind; what a real server does is not tested.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.machinery
import importlib.util
import inspect
import os
import runpy
import subprocess
import sys
import types
from pathlib import Path

import httpx
import pytest
from cryosparc.controllers.job import JobController
from cryosparc.controllers.project import ProjectController
from cryosparc.errors import APIError
from cryosparc.models.job_spec import Connection as ServerConnection
from cryosparc.models.job_spec import InputResult as ServerInputResult
from cryosparc.tools import CryoSPARC

from conftest import REPO
from tui.core.errors import ApplyError, CsRebindError, ExportError
from tui.core.live import (
    JOB_METHOD_DEFAULTS, JOB_METHOD_PARAMETERS, ApplyReport, ConnectionSettings, Operation, accepts_source_version,
    apply_plan, call_arguments, default_client_factory, operations, planned_call, planned_operations, redact,
    render_script,
)
from tui.core.live import adapter as adapter_module
from tui.core.model import Binding, Connection, InputGroup, InputSlot
from tui.core.project import load_project
from tui.core.refs import ResultRef
from tui.core.session import EditSession

PASSWORD = "hunter2-Secret!pw"
LICENSE = "0a1b2c3d-aaaa-bbbb-cccc-0123456789ab"
SETTINGS = ConnectionSettings(url="http://cryosparc.test:39000", email="ali@example.org", password=PASSWORD)


# --- the recording stand-in ------------------------------------------------------------------------


def _recording_method(name: str, signature: inspect.Signature):
    """A method with the real ``signature`` that records its bound arguments on the server."""
    def method(self, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs)  # TypeError on a wrong or missing argument
        arguments = dict(bound.arguments)
        arguments.pop(next(iter(signature.parameters)))  # self
        for parameter in signature.parameters.values():
            if parameter.kind is inspect.Parameter.VAR_KEYWORD:
                extra = arguments.pop(parameter.name, None)
                if extra:
                    # the real connect/disconnect swallow unknown keywords into **kwargs; csrebind must
                    # not rely on that (a misspelled connection_idx would disconnect *every* connection)
                    raise TypeError(f"{name}() got unexpected keyword(s) {sorted(extra)}")
        return self.server.record(name, arguments)

    method.__signature__ = signature
    method.__name__ = name
    return method


def job_class(api: type = JobController) -> type:
    """A job class whose four connection methods have ``api``'s signatures (read now)."""
    namespace = {}
    for name in JOB_METHOD_PARAMETERS:
        real = getattr(api, name, None)
        if real is not None:
            namespace[name] = _recording_method(name, inspect.signature(real))
    return type("RecordingJob", (), namespace)


@functools.cache
def declared_jobs_api() -> type:
    """``JobsAPI`` as the installed cryosparc-tools declares it in ``cryosparc/api.pyi``, the stub
    its run-time endpoints are generated to match, executed as a module (inside the cryosparc
    package, for its relative imports) so :func:`inspect.signature` reads the real declaration."""
    import cryosparc

    path = Path(cryosparc.__file__).with_name("api.pyi")
    name = "cryosparc._declared_api_for_tests"
    loader = importlib.machinery.SourceFileLoader(name, str(path))
    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module.JobsAPI


def endpoints_class(names: tuple[str, ...] = ("reconnect",)) -> type:
    """An ``api.jobs`` namespace whose endpoints ``names`` have the declared signatures and record."""
    api = declared_jobs_api()
    return type("RecordingJobsAPI", (), {n: _recording_method(n, inspect.signature(getattr(api, n))) for n in names})


class ServerState:
    """The connections of the target job's inputs as the stand-in keeps them, in cryosparc-tools'
    own models: a list per input, where connect appends, reconnect replaces connection N,
    disconnect N removes it and the later ones move up one (CryoSPARC keeps a list; that a real
    server closes the gap is assumed here, not verified). A new connection gets a marker result
    in every slot (the server's own slot matching is not documented), so a slot csrebind forgot
    to set or clear shows up."""

    MARKER = "server-default"

    def __init__(self, groups) -> None:
        self.inputs = server_inputs(groups)
        self.slots = {g.name: [s.name for s in g.slots] for g in groups}

    def connections(self, name: str) -> list:
        return self.inputs[name].connections

    def _fresh(self, name: str, job: str, output: str) -> ServerConnection:
        return ServerConnection(job_uid=job, output=output, results=[
            ServerInputResult(name=slot, dtype=self.MARKER, job_uid=job, output=output, result=self.MARKER, version="F")
            for slot in self.slots[name]
        ])

    @staticmethod
    def _index(connections: list, index: int) -> int:
        if not isinstance(index, int) or not 0 <= index < len(connections):
            raise IndexError(f"no connection {index!r} (there are {len(connections)})")
        return index

    def connect(self, name: str, job: str, output: str) -> None:
        self.connections(name).append(self._fresh(name, job, output))

    def reconnect(self, name: str, index: int, job: str, output: str) -> None:
        connections = self.connections(name)
        connections[self._index(connections, index)] = self._fresh(name, job, output)

    def disconnect(self, name: str, index: int) -> None:
        connections = self.connections(name)
        del connections[self._index(connections, index)]

    def connect_result(self, name: str, index: int, slot: str, job: str, output: str, result: str,
                       version="F") -> None:
        connections = self.connections(name)
        connection = connections[self._index(connections, index)]
        kept = [r for r in connection.results if r.name != slot]
        dtype = next((r.dtype for r in connection.results if r.name == slot), slot)
        kept.append(ServerInputResult(name=slot, dtype=dtype, job_uid=job, output=output, result=result,
                                      version=version))
        connection.results = kept

    def disconnect_result(self, name: str, index: int, slot: str) -> None:
        connections = self.connections(name)
        connection = connections[self._index(connections, index)]
        connection.results = [r for r in connection.results if r.name != slot]

    def job_call(self, name: str, a: dict) -> None:
        """A Job method call (cryosparc-tools' JobController parameter names)."""
        if name == "connect":
            self.connect(a["target_input"], a["source_job_uid"], a["source_output"])
        elif name == "disconnect":
            self.disconnect(a["target_input"], a["connection_idx"])
        elif name == "connect_result":
            self.connect_result(a["target_input"], a["connection_idx"], a["slot"], a["source_job_uid"],
                                a["source_output"], a["source_result"], a.get("source_version", "F"))
        elif name == "disconnect_result":
            self.disconnect_result(a["target_input"], a["connection_idx"], a["slot"])
        else:
            self.endpoint_call(name, a)

    def endpoint_call(self, name: str, a: dict) -> None:
        """An ``api.jobs`` endpoint call (the parameter names declared in cryosparc/api.pyi)."""
        if name == "reconnect":
            self.reconnect(a["input_name"], a["connection_index"], a["source_job_uid"], a["source_output_name"])
        elif name == "connect":
            self.connect(a["input_name"], a["source_job_uid"], a["source_output_name"])
        elif name == "disconnect":
            self.disconnect(a["input_name"], a["connection_index"])
        elif name == "connect_result":
            self.connect_result(a["input_name"], a["connection_index"], a["result_name"], a["source_job_uid"],
                                a["source_output_name"], a["source_result_name"], a.get("source_result_version", "F"))
        elif name == "disconnect_result":
            self.disconnect_result(a["input_name"], a["connection_index"], a["result_name"])
        else:
            raise AssertionError(f"the stand-in does not model {name}")

    def snapshot(self) -> dict:
        return {name: [(c.job_uid, c.output, {r.name: f"{r.job_uid}.{r.output}.{r.result}.{r.version}"
                                              for r in c.results if r.name})
                       for c in group.connections]
                for name, group in self.inputs.items()}


def expected_state(groups) -> dict:
    """:meth:`ServerState.snapshot` of ``groups`` as csrebind means them (slots only)."""
    return {g.name: [(c.job, c.output, {b.slot: str(b.ref) for b in c.slot_bindings}) for c in g.connections]
            for g in groups}


class FakeServer:
    """The CryoSPARC client, project and job in one recorder. With ``groups`` (the target's inputs
    as loaded) it keeps their connections in :attr:`state` and changes them call by call; the job's
    client offers ``cs.api.jobs.reconnect`` unless ``reconnect`` is False (an older CryoSPARC)."""

    def __init__(self, status: str = "building", fail_on: int | None = None, error: BaseException | None = None,
                 api: type = JobController, inputs: dict | None = None, groups=None, reconnect: bool = True) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.lookups: list[tuple[str, str]] = []
        self.settings: list[ConnectionSettings] = []
        self.fail_on, self.error = fail_on, error
        self.state = ServerState(groups) if groups is not None else None
        self.job = job_class(api)()
        self.job.server = self
        self.job.status = status
        if inputs is not None:
            self.job.inputs = inputs
        elif self.state is not None:
            self.job.inputs = self.state.inputs
        endpoints = endpoints_class(("reconnect",) if reconnect else ())()
        endpoints.server = self
        self.api = types.SimpleNamespace(jobs=endpoints)
        self.job.cs = self
        self._find_project = inspect.signature(CryoSPARC.find_project)
        self._find_job = inspect.signature(ProjectController.find_job)

    def record(self, name: str, arguments: dict) -> bool:
        self.calls.append((name, arguments))
        if self.fail_on is not None and len(self.calls) == self.fail_on:
            raise self.error or RuntimeError("server said no")
        if self.state is not None:
            self.state.job_call(name, arguments)
        return True

    def factory(self, settings: ConnectionSettings) -> "FakeServer":
        self.settings.append(settings)
        return self

    def find_project(self, *args, **kwargs):
        uid = self._find_project.bind(self, *args, **kwargs).arguments["project_uid"]
        self.lookups.append(("project", uid))
        server = self

        class Project:
            def find_job(self, *args, **kwargs):
                job_uid = server._find_job.bind(self, *args, **kwargs).arguments["job_uid"]
                server.lookups.append(("job", job_uid))
                return server.job

        return Project()


def api_error(message: str) -> APIError:
    request = httpx.Request("POST", "http://cryosparc.test:39000/api/projects/P3/jobs/J12/connect_result")
    response = httpx.Response(422, request=request, json={"detail": message})
    return APIError(message, res=response)


def server_inputs(groups) -> dict:
    """``job.inputs`` as cryosparc-tools 5.x models it (real pydantic models)."""
    return {
        g.name: types.SimpleNamespace(connections=[
            ServerConnection(job_uid=c.job, output=c.output, results=[
                ServerInputResult(name=b.slot, dtype=b.dtype, job_uid=b.ref.job, output=b.ref.output,
                                  result=b.ref.result, version=b.ref.version)
                for b in c.bindings
            ])
            for c in g.connections
        ])
        for g in groups
    }


def brief_session(demo_project: Path) -> EditSession:
    """The design brief's edit: J12 gets J5's full-size blob and J9's alignments at iteration 3."""
    session = EditSession(load_project(demo_project), "J12")
    session.put("particles.0.blob", "J5.particles.blob.F")
    session.put("particles.0.alignments3D", "J9.particles.alignments3D.3")
    return session


BRIEF_CALLS = [
    ("connect_result", {"target_input": "particles", "connection_idx": 0, "slot": "blob", "source_job_uid": "J5",
                        "source_output": "particles", "source_result": "blob", "source_version": "F"}),
    ("connect_result", {"target_input": "particles", "connection_idx": 0, "slot": "alignments3D",
                        "source_job_uid": "J9", "source_output": "particles", "source_result": "alignments3D",
                        "source_version": 3}),
]


# --- (a) the adapter against the installed library -------------------------------------------------


@pytest.mark.parametrize("name", sorted(JOB_METHOD_PARAMETERS))
def test_adapter_matches_installed_job_controller(name):
    """Fails when cryosparc-tools renames, reorders or re-defaults a parameter csrebind uses."""
    signature = inspect.signature(getattr(JobController, name))
    named = [p for p in signature.parameters.values()
             if p.name != "self" and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)]
    assert tuple(p.name for p in named) == JOB_METHOD_PARAMETERS[name]
    for parameter in named:
        assert parameter.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        assert parameter.default == JOB_METHOD_DEFAULTS.get((name, parameter.name), inspect.Parameter.empty), \
            f"{name}.{parameter.name}"


def test_connect_result_version_defaults_to_final():
    parameter = inspect.signature(JobController.connect_result).parameters["source_version"]
    assert parameter.default == "F"
    assert accepts_source_version(JobController)


def test_adapter_builds_every_operation_with_the_table_names():
    ref = ResultRef("J5", "particles", "blob", 3)
    samples = [
        Operation("connect", "particles", 1, source_job="J5", source_output="particles"),
        Operation("disconnect", "particles", 2),
        Operation("connect_result", "particles", 0, "blob", source=ref),
        Operation("disconnect_result", "particles", 0, "ctf"),
    ]
    assert sorted(op.kind for op in samples) == sorted(JOB_METHOD_PARAMETERS)
    for op in samples:
        name, kwargs = call_arguments(op)
        assert name == op.kind and tuple(kwargs) == JOB_METHOD_PARAMETERS[name]
        inspect.signature(getattr(JobController, name)).bind(None, **kwargs)


def test_disconnect_without_an_index_is_refused():
    """The library reads a missing index as 'clear every connection'."""
    with pytest.raises(ApplyError, match="incomplete"):
        call_arguments(Operation("disconnect", "particles", None))


# --- (b) the design-brief plan ---------------------------------------------------------------------


def test_design_brief_plan_makes_exactly_these_calls(demo_project):
    session = brief_session(demo_project)
    ops = planned_operations(session.loaded, session.inputs)
    server = FakeServer(inputs=server_inputs(session.loaded))
    report = apply_plan(session.to_plan(), ops, settings=SETTINGS, client_factory=server.factory,
                        loaded=session.loaded)
    assert server.lookups == [("project", "P3"), ("job", "J12")]
    assert server.calls == BRIEF_CALLS
    assert report.ok and report.applied == ops and not report.failed and not report.not_attempted
    assert report.warnings == []
    assert "Applied all 2 operation(s) to J12 in project P3" in report.summary()


def test_server_that_changed_since_job_json_is_refused(demo_project):
    session = brief_session(demo_project)
    moved = [g.with_connections(()) if g.name == "particles" else g for g in session.loaded]
    server = FakeServer(inputs=server_inputs(moved))
    with pytest.raises(ApplyError, match="no longer matches") as caught:
        apply_plan(session.to_plan(), planned_operations(session.loaded, session.inputs), settings=SETTINGS,
                   client_factory=server.factory, loaded=session.loaded)
    assert server.calls == []
    assert "CryoSPARC has no connections, job.json has J9.particles" in str(caught.value)


def test_nothing_to_apply(demo_project):
    session = EditSession(load_project(demo_project), "J12")
    server = FakeServer()
    report = apply_plan(session.to_plan(), [], settings=SETTINGS, client_factory=server.factory)
    assert report.ok and server.lookups == [] and "Nothing to apply" in report.summary()


# --- (c) partial failure ---------------------------------------------------------------------------


def test_failure_on_second_call_stops_and_reports(demo_project):
    session = brief_session(demo_project)
    session.put_group("particles", "J5", "particles")
    ops = planned_operations(session.loaded, session.inputs)
    assert len(ops) == 7
    server = FakeServer(fail_on=2, error=api_error("Result version 3 not found"))
    report = apply_plan(session.to_plan(), ops, settings=SETTINGS, client_factory=server.factory)
    assert len(server.calls) == 2
    assert report.applied == ops[:1] and report.failed == ops[1:2] and report.not_attempted == ops[2:]
    assert not report.ok
    assert "APIError" in report.error and "Result version 3 not found" in report.error
    text = report.summary()
    assert "1 of 7 operation(s) applied" in text
    assert "FAILED         connect J9.particles.alignments3D.3 to particles.0.alignments3D" in text
    assert text.count("not attempted") == 5
    assert "partly changed" in text


def test_failure_on_first_call_changes_nothing(demo_project):
    session = brief_session(demo_project)
    ops = planned_operations(session.loaded, session.inputs)
    server = FakeServer(fail_on=1, error=httpx.ConnectError("connection refused"))
    report = apply_plan(session.to_plan(), ops, settings=SETTINGS, client_factory=server.factory)
    assert report.applied == [] and report.failed == ops[:1] and report.not_attempted == ops[1:]
    assert "ConnectError: connection refused" in report.summary()


def test_unreachable_server_is_an_apply_error(demo_project):
    session = brief_session(demo_project)

    def factory(settings):
        raise RuntimeError("Could not connect to CryoSPARC at http://cryosparc.test:39000")

    with pytest.raises(ApplyError, match="cannot reach J12 in project P3") as caught:
        apply_plan(session.to_plan(), planned_operations(session.loaded, session.inputs), settings=SETTINGS,
                   client_factory=factory)
    assert isinstance(caught.value, CsRebindError)
    assert caught.value.report.applied == [] and len(caught.value.report.not_attempted) == 2


# --- (d) status ------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["completed", "queued", "failed", "killed"])
def test_target_not_building_is_refused_before_any_call(demo_project, status):
    session = brief_session(demo_project)
    ops = planned_operations(session.loaded, session.inputs)
    server = FakeServer(status=status)
    with pytest.raises(ApplyError, match=f"J12 is {status} in CryoSPARC; only a job in building status") as caught:
        apply_plan(session.to_plan(), ops, settings=SETTINGS, client_factory=server.factory)
    assert server.calls == []
    assert caught.value.report.applied == [] and caught.value.report.not_attempted == ops


def test_status_is_read_from_the_model_when_needed():
    job = types.SimpleNamespace(model=types.SimpleNamespace(status="building"))
    assert adapter_module.job_status(job) == "building"


# --- (e) cryosparc-tools without source_version ----------------------------------------------------


def _old_connect_result(self, target_input: str, connection_idx: int, slot: str, source_job_uid: str,
                        source_output: str, source_result: str):
    """cryosparc-tools 4.7.1: no version parameter."""


def test_old_tools_refuse_a_specific_version(demo_project, monkeypatch):
    monkeypatch.setattr(JobController, "connect_result", _old_connect_result)
    assert not accepts_source_version(JobController)
    session = brief_session(demo_project)
    server = FakeServer()
    with pytest.raises(ApplyError) as caught:
        apply_plan(session.to_plan(), planned_operations(session.loaded, session.inputs), settings=SETTINGS,
                   client_factory=server.factory)
    message = str(caught.value)
    assert "cannot connect a specific version" in message and "source_version" in message
    assert "J9.particles.alignments3D.3" in message and "cryosparc-tools 5.x" in message
    assert server.lookups == [] and server.calls == []  # refused before even connecting


def test_old_tools_apply_a_final_only_plan(demo_project, monkeypatch):
    monkeypatch.setattr(JobController, "connect_result", _old_connect_result)
    session = EditSession(load_project(demo_project), "J12")
    session.put("particles.0.blob", "J5.particles.blob.F")
    server = FakeServer()
    report = apply_plan(session.to_plan(), planned_operations(session.loaded, session.inputs), settings=SETTINGS,
                        client_factory=server.factory)
    assert report.ok
    expected = dict(BRIEF_CALLS[0][1])
    del expected["source_version"]
    assert server.calls == [("connect_result", expected)]


def test_old_job_object_is_checked_too(demo_project):
    """The library looks new but the job object in hand is old: refused before any call."""
    class OldJob:
        connect_result = _old_connect_result

    session = brief_session(demo_project)
    server = FakeServer(api=OldJob)
    with pytest.raises(ApplyError, match="cannot connect a specific version"):
        apply_plan(session.to_plan(), planned_operations(session.loaded, session.inputs), settings=SETTINGS,
                   client_factory=server.factory)
    assert server.calls == []


def test_tools_without_connect_result_are_refused(demo_project):
    class AncientJob:
        def connect(self, target_input, source_job_uid, source_output): ...

    session = EditSession(load_project(demo_project), "J12")
    session.put("particles.0.blob", "J5.particles.blob.F")
    server = FakeServer(api=AncientJob)
    with pytest.raises(ApplyError, match=r"no Job.connect_result \(added in cryosparc-tools 4.7.1\)"):
        apply_plan(session.to_plan(), planned_operations(session.loaded, session.inputs), settings=SETTINGS,
                   client_factory=server.factory)
    assert server.calls == []


# --- (f) secrets -----------------------------------------------------------------------------------


def _assert_clean(text: str) -> None:
    digest = hashlib.sha256(PASSWORD.encode()).hexdigest()
    for secret in (PASSWORD, digest, LICENSE, "userpass"):
        assert secret not in text


def test_settings_never_show_secrets(monkeypatch):
    monkeypatch.setenv("CRYOSPARC_PASSWORD", PASSWORD)
    monkeypatch.setenv("CRYOSPARC_LICENSE_ID", LICENSE)
    monkeypatch.setenv("CRYOSPARC_BASE_URL", "http://bob:userpass@cryosparc.test:39000")
    monkeypatch.setenv("CRYOSPARC_EMAIL", "ali@example.org")
    settings = ConnectionSettings.from_sources()
    assert settings.password == PASSWORD and settings.license == LICENSE
    for text in (repr(settings), str(settings), settings.describe(), settings.target, f"{settings}", f"{settings!r}"):
        _assert_clean(text)
    assert "password=<set>" in repr(settings)


def test_secrets_never_reach_the_report(demo_project, monkeypatch):
    monkeypatch.setenv("CRYOSPARC_PASSWORD", PASSWORD)
    monkeypatch.setenv("CRYOSPARC_EMAIL", "ali@example.org")
    settings = ConnectionSettings.from_sources(config={"url": "http://cryosparc.test:39000"})
    digest = hashlib.sha256(PASSWORD.encode()).hexdigest()
    error = api_error(f"bad login ali@example.org password={PASSWORD} digest {digest} "
                      f"via http://bob:userpass@cryosparc.test Authorization: Bearer abcdefghijklmnop")
    session = brief_session(demo_project)
    server = FakeServer(fail_on=1, error=error)
    report = apply_plan(session.to_plan(), planned_operations(session.loaded, session.inputs), settings=settings,
                        client_factory=server.factory)
    assert server.settings[0].password == PASSWORD  # the client did get it
    for text in (report.summary(), str(report), report.error, repr(report)):
        _assert_clean(text)
        assert "abcdefghijklmnop" not in text
    assert "bad login" in report.error and "[redacted]" in report.error


def test_secrets_never_reach_an_apply_error(demo_project, monkeypatch):
    monkeypatch.setenv("CRYOSPARC_PASSWORD", PASSWORD)
    session = brief_session(demo_project)

    def factory(settings):
        raise ValueError(f"could not log in with {settings.password}")

    with pytest.raises(ApplyError) as caught:
        apply_plan(session.to_plan(), planned_operations(session.loaded, session.inputs),
                   settings=ConnectionSettings.from_sources(), client_factory=factory)
    _assert_clean(str(caught.value))
    _assert_clean(caught.value.report.summary())
    assert caught.value.__cause__ is None and caught.value.__context__ is None  # no chained original


def test_password_never_comes_from_the_config_file():
    settings = ConnectionSettings.from_sources(
        config={"host": "cs.example.org", "base_port": "39000", "email": "a@b", "password": PASSWORD, "colour": 1},
        environ={})
    assert settings.password is None
    assert settings.target == "http://cs.example.org:39000"
    assert any("password in the config file is ignored" in w for w in settings.warnings)
    assert any("unknown cryosparc setting 'colour'" in w for w in settings.warnings)


def test_password_from_a_prompt_and_environment_precedence():
    asked = []
    settings = ConnectionSettings.from_sources(
        config={"url": "http://file.example.org:39000", "email": "file@example.org"},
        environ={"CRYOSPARC_EMAIL": "env@example.org"},
        prompt=lambda text: asked.append(text) or PASSWORD)
    assert settings.password == PASSWORD and settings.email == "env@example.org"
    assert asked == ["CryoSPARC password for env@example.org at http://file.example.org:39000: "]
    _assert_clean(repr(settings))


def test_bad_settings_are_explained():
    with pytest.raises(ApplyError, match="base_port 'abc' is not valid"):
        ConnectionSettings.from_sources(config={"base_port": "abc"}, environ={})
    with pytest.raises(ApplyError, match="url 'cryosparc:39000' is not valid"):
        ConnectionSettings.from_sources(config={"url": "cryosparc:39000"}, environ={})


def test_redact_handles_every_form():
    text = redact(f"x {PASSWORD} y password: abc123 z https://u:p@h/ Basic QWxhZGRpbjpvcGVu",
                  [PASSWORD], environ={})
    assert PASSWORD not in text and "abc123" not in text and "u:p@" not in text and "QWxhZGRpbjpvcGVu" not in text


def test_client_keywords_fit_the_installed_constructor(monkeypatch):
    """The default factory passes only what CryoSPARC.__init__ takes, bound against its real signature."""
    signature = inspect.signature(CryoSPARC.__init__)
    made = []

    class Recording:
        def __init__(self, *args, **kwargs):
            made.append(signature.bind(self, *args, **kwargs).arguments)

    Recording.__init__.__signature__ = signature  # what the factory inspects: the real constructor's
    monkeypatch.setattr("cryosparc.tools.CryoSPARC", Recording)
    default_client_factory(ConnectionSettings(url="http://cs:39000", email="a@b", password=PASSWORD))
    default_client_factory(ConnectionSettings(host="cs", base_port=39002, email="a@b", license=LICENSE))
    assert {k: v for k, v in made[0].items() if k != "self"} == {
        "base_url": "http://cs:39000", "host": None, "base_port": None, "email": "a@b", "password": PASSWORD}
    assert {k: v for k, v in made[1].items() if k != "self"} == {
        "host": "cs", "base_port": 39002, "email": "a@b", "password": None, "license": LICENSE}


def test_client_keywords_for_tools_without_base_url():
    accepted = {"license", "host", "base_port", "email", "password", "timeout"}  # the 4.x constructor
    kwargs = ConnectionSettings(url="https://cs.example.org:39100", email="a@b").client_kwargs(accepted)
    assert kwargs == {"host": "cs.example.org", "base_port": 39100, "email": "a@b", "password": None}


# --- (g) the script --------------------------------------------------------------------------------


def _stand_in_tools(server: FakeServer, made: list) -> types.ModuleType:
    signature = inspect.signature(CryoSPARC.__init__)
    module = types.ModuleType("cryosparc.tools")

    class StandIn:
        def __init__(self, *args, **kwargs):
            made.append({k: v for k, v in signature.bind(self, *args, **kwargs).arguments.items() if k != "self"})

        def find_project(self, *args, **kwargs):
            return server.find_project(*args, **kwargs)

        @property
        def api(self):
            return server.api

    module.CryoSPARC = StandIn
    return module


def _run_script(path: Path, server: FakeServer, monkeypatch) -> list:
    made: list = []
    monkeypatch.setitem(sys.modules, "cryosparc.tools", _stand_in_tools(server, made))
    runpy.run_path(str(path), run_name="__main__")
    return made


def _script_calls(ops, project_uid="P3", job_uid="J12"):
    """What the stand-in records for the script's calls: the bound arguments of each planned call."""
    calls = []
    for op in ops:
        call = planned_call(op, project_uid, job_uid,
                            source_version=op.kind == "connect_result" and op.source.version != "F")
        if call.owner == "job":
            calls.append((call.name, call.keywords))
        else:
            signature = inspect.signature(getattr(declared_jobs_api(), call.name))
            arguments = dict(signature.bind(None, *call.args, **call.keywords).arguments)
            arguments.pop("self")
            calls.append((call.name, arguments))
    return calls


def test_script_is_valid_python_and_makes_the_same_calls(demo_project, tmp_path, monkeypatch, capsys):
    session = brief_session(demo_project)
    session.put_group("particles", "J5", "particles")
    session.clear("volume.0.map")
    ops = planned_operations(session.loaded, session.inputs)
    monkeypatch.setenv("CRYOSPARC_PASSWORD", PASSWORD)  # present while rendering: must not be copied in
    text = render_script(session.to_plan(), ops)
    compile(text, "rebind.py", "exec")
    _assert_clean(text)
    assert "from cryosparc.tools import CryoSPARC" in text
    assert "cs.find_project(PROJECT_UID).find_job(JOB_UID)" in text
    assert 'PROJECT_UID = "P3"' in text and 'JOB_UID = "J12"' in text
    assert "# Generated by csrebind" in text and "Project P3" in text and "target job J12" in text
    assert "#   particles.0.blob: J9.particles.blob.F → J5.particles.blob.F" in text
    assert "    # particles.0.alignments3D: J9.particles.alignments3D.F → J9.particles.alignments3D.3\n" in text

    script = tmp_path / "rebind.py"
    script.write_text(text)
    monkeypatch.setenv("CRYOSPARC_BASE_URL", "http://cryosparc.test:39000")
    monkeypatch.setenv("CRYOSPARC_EMAIL", "ali@example.org")
    server = FakeServer()
    made = _run_script(script, server, monkeypatch)
    assert made == [{"base_url": "http://cryosparc.test:39000", "host": None, "base_port": None,
                     "email": "ali@example.org", "password": PASSWORD}]
    assert server.lookups == [("project", "P3"), ("job", "J12")]
    assert server.calls == _script_calls(ops)
    assert f"[{len(ops)}/{len(ops)}]" in capsys.readouterr().out

    # the same calls as live apply, once the library's defaults are filled in
    live = FakeServer()
    apply_plan(session.to_plan(), ops, settings=SETTINGS, client_factory=live.factory)

    def normalised(calls):
        result = []
        for name, kwargs in calls:
            bound = inspect.signature(getattr(JobController, name)).bind(None, **kwargs)
            bound.apply_defaults()
            result.append((name, {k: v for k, v in bound.arguments.items() if k not in ("self", "kwargs")}))
        return result

    assert normalised(server.calls) == normalised(live.calls)


def test_script_uses_host_and_port_without_a_url(demo_project, tmp_path, monkeypatch):
    session = brief_session(demo_project)
    script = tmp_path / "rebind.py"
    script.write_text(render_script(session.to_plan(), planned_operations(session.loaded, session.inputs)))
    monkeypatch.setenv("CRYOSPARC_MASTER_HOSTNAME", "cs-master")
    monkeypatch.setenv("CRYOSPARC_BASE_PORT", "39100")
    monkeypatch.setenv("CRYOSPARC_LICENSE_ID", LICENSE)
    monkeypatch.delenv("CRYOSPARC_PASSWORD", raising=False)
    monkeypatch.delenv("CRYOSPARC_EMAIL", raising=False)
    made = _run_script(script, FakeServer(), monkeypatch)
    assert made == [{"host": "cs-master", "base_port": 39100, "email": None, "password": None, "license": LICENSE}]


def test_script_stops_on_a_job_not_building(demo_project, tmp_path, monkeypatch):
    session = brief_session(demo_project)
    script = tmp_path / "rebind.py"
    script.write_text(render_script(session.to_plan(), planned_operations(session.loaded, session.inputs)))
    server = FakeServer(status="completed")
    with pytest.raises(SystemExit, match="J12 is completed; only a job in building status"):
        _run_script(script, server, monkeypatch)
    assert server.calls == []


def test_script_refuses_versions_on_old_tools(demo_project, tmp_path, monkeypatch):
    session = brief_session(demo_project)
    script = tmp_path / "rebind.py"
    script.write_text(render_script(session.to_plan(), planned_operations(session.loaded, session.inputs)))
    monkeypatch.setattr(JobController, "connect_result", _old_connect_result)
    server = FakeServer()
    with pytest.raises(SystemExit, match="cannot connect a specific version"):
        _run_script(script, server, monkeypatch)
    assert server.calls == []


def test_script_reports_where_it_stopped(demo_project, tmp_path, monkeypatch, capsys):
    session = brief_session(demo_project)
    script = tmp_path / "rebind.py"
    script.write_text(render_script(session.to_plan(), planned_operations(session.loaded, session.inputs)))
    server = FakeServer(fail_on=2, error=api_error("nope"))
    with pytest.raises(SystemExit) as caught:
        _run_script(script, server, monkeypatch)
    assert caught.value.code == 1
    assert "Step 2 of 2 failed: the steps before it were applied" in capsys.readouterr().err


def test_script_needs_changes_and_a_project_uid(demo_project):
    session = EditSession(load_project(demo_project), "J12")
    with pytest.raises(ExportError, match="no change"):
        render_script(session.to_plan(), [])
    plan = session.to_plan()
    plan["project"] = {"path": "/x"}
    with pytest.raises(ExportError, match="no CryoSPARC project uid"):
        render_script(plan, [Operation("disconnect_result", "particles", 0, "ctf")])


def test_script_comments_cannot_break_out(demo_project):
    session = brief_session(demo_project)
    plan = session.to_plan()
    plan["project"]["path"] = "/evil\nimport os; os.system('x')\n"
    text = render_script(plan, planned_operations(session.loaded, session.inputs))
    compile(text, "rebind.py", "exec")
    assert "\nimport os; os.system" not in text


# --- (h) operations --------------------------------------------------------------------------------


def test_operations_new_connection_sets_every_slot(demo_project):
    session = EditSession(load_project(demo_project), "J12")
    session.put_group("particles", "J5", "particles")
    ref = lambda r: ResultRef("J5", "particles", r, "F")  # noqa: E731
    assert planned_operations(session.loaded, session.inputs) == [
        Operation("connect", "particles", 1, source_job="J5", source_output="particles"),
        Operation("connect_result", "particles", 1, "blob", source=ref("blob")),
        Operation("connect_result", "particles", 1, "ctf", source=ref("ctf")),
        Operation("disconnect_result", "particles", 1, "alignments3D"),
        Operation("disconnect_result", "particles", 1, "sym_expand"),
    ]


def test_operations_replaced_connection(demo_project):
    session = EditSession(load_project(demo_project), "J12")
    session.put_group("volume", "J8", "volume_class_0", connection=0)
    map_ = Operation("connect_result", "volume", 0, "map", source=ResultRef("J8", "volume_class_0", "map", "F"))
    assert operations(session.loaded, session.inputs, in_place=False) == [
        Operation("disconnect", "volume", 0),
        Operation("connect", "volume", 0, source_job="J8", source_output="volume_class_0"),
        map_,
    ]
    assert operations(session.loaded, session.inputs, in_place=True) == [
        Operation("reconnect", "volume", 0, source_job="J8", source_output="volume_class_0"),
        map_,
    ]
    # the installed cryosparc-tools (5.0.3) declares api.jobs.reconnect: in place by default
    assert planned_operations(session.loaded, session.inputs) == operations(session.loaded, session.inputs, in_place=True)


def test_operations_cleared_slot(demo_project):
    session = EditSession(load_project(demo_project), "J12")
    session.clear("particles.0.alignments3D")
    assert planned_operations(session.loaded, session.inputs) == [Operation("disconnect_result", "particles", 0, "alignments3D")]


def _particles(*sources: tuple[str, str]) -> InputGroup:
    slots = (InputSlot("blob", "blob", True), InputSlot("ctf", "ctf", False))
    connections = tuple(
        Connection(job, output, (Binding("blob", ResultRef(job, output, "blob", "F"), "blob"),))
        for job, output in sources
    )
    return InputGroup("particles", "particle", "Particles", slots, connections, count_max=None)


def test_operations_removed_connections_go_from_the_highest_index_down():
    loaded = (_particles(("J5", "particles"), ("J6", "particles"), ("J7", "particles_selected")),)
    last_removed = (_particles(("J5", "particles"), ("J6", "particles")),)
    for in_place in (True, False):
        assert operations(loaded, last_removed, in_place=in_place) == [Operation("disconnect", "particles", 2)]

    first_removed = (_particles(("J6", "particles"), ("J7", "particles_selected")),)
    assert operations(loaded, first_removed, in_place=True) == [Operation("disconnect", "particles", 0)]
    ops = operations(loaded, first_removed, in_place=False)
    assert ops[:3] == [Operation("disconnect", "particles", i) for i in (2, 1, 0)]
    assert ops[3:] == [
        Operation("connect", "particles", 0, source_job="J6", source_output="particles"),
        Operation("connect_result", "particles", 0, "blob", source=ResultRef("J6", "particles", "blob", "F")),
        Operation("disconnect_result", "particles", 0, "ctf"),
        Operation("connect", "particles", 1, source_job="J7", source_output="particles_selected"),
        Operation("connect_result", "particles", 1, "blob",
                  source=ResultRef("J7", "particles_selected", "blob", "F")),
        Operation("disconnect_result", "particles", 1, "ctf"),
    ]
    # and every one of them is a call the installed library accepts, leaving what was meant
    server = FakeServer(groups=loaded)
    plan = {"format": "csrebind-plan", "format_version": 1, "project": {"uid": "P3"}, "target": "J12"}
    assert apply_plan(plan, ops, settings=SETTINGS, client_factory=server.factory).ok
    assert [c[1]["connection_idx"] for c in server.calls if c[0] == "disconnect"] == [2, 1, 0]
    assert server.state.snapshot() == expected_state(first_removed)


# --- hygiene -----------------------------------------------------------------------------------------


def test_apply_and_script_import_no_ui_and_no_cryosparc():
    code = (
        "import sys, tui.core.live\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich', 'cryosparc'))))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.stdout.strip() == ""


def test_report_type_is_plain_data():
    report = ApplyReport("P3", "J12")
    assert report.ok and report.total == 0
