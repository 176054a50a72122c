"""Live apply on CryoSPARC 5.x: connection N replaced in place with ``api.jobs.reconnect`` and
removed with ``Job.disconnect(input, N)`` where the installed cryosparc-tools has them, else
connection N and every later one rebuilt (issue 10, item 7).

The calls are bound against the installed cryosparc-tools: its ``JobController`` methods, run for
real over an ``api.jobs`` namespace whose endpoints carry the signatures the library declares in
``cryosparc/api.pyi`` (its run-time endpoints are generated from the server's schema and take
``*args, **kwargs``, so the declaration is the only signature there is to check). The stand-in
server keeps the connections as a list (:class:`test_apply.ServerState`); what a real CryoSPARC
does with the calls is not tested.
"""

from __future__ import annotations

import inspect
import types

import pytest
from cryosparc.controllers.job import JobController
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_apply import (
    SETTINGS, FakeServer, ServerState, _run_script, _script_calls, declared_jobs_api, endpoints_class,
    expected_state,
)

from tui.core import routes
from tui.core.errors import ApplyError
from tui.core.live import (
    API_ENDPOINT_PARAMETERS, Operation, apply_plan, describe_calls, in_place_available, installed_endpoints,
    operations, planned_call, planned_operations, render_script,
)
from tui.core.live import adapter as adapter_module
from tui.core.model import Binding, Connection, InputGroup, InputSlot
from tui.core.project import load_project
from tui.core.refs import ResultRef
from tui.core.session import EditSession

PLAN = {"format": "csrebind-plan", "format_version": 1, "project": {"uid": "P3"}, "target": "J12"}
SLOTS = (InputSlot("blob", "blob", True), InputSlot("ctf", "ctf", False))


def connection(job: str, output: str = "particles", ctf: str | None = None) -> Connection:
    bindings = [Binding("blob", ResultRef(job, output, "blob", "F"), "blob")]
    if ctf:
        bindings.append(Binding("ctf", ResultRef(ctf, "exposures", "ctf", "F"), "ctf"))
    return Connection(job, output, tuple(bindings))


def particles(*connections: Connection) -> tuple[InputGroup, ...]:
    return (InputGroup("particles", "particle", "Particles", SLOTS, tuple(connections), count_max=None),)


# Three connections; connection 1 is replaced by J8.particles.
LOADED = particles(connection("J5", ctf="J2"), connection("J6", ctf="J2"), connection("J7", "particles_selected"))
REPLACED = particles(connection("J5", ctf="J2"), connection("J8"), connection("J7", "particles_selected"))

IN_PLACE = [
    Operation("reconnect", "particles", 1, source_job="J8", source_output="particles"),
    Operation("connect_result", "particles", 1, "blob", source=ResultRef("J8", "particles", "blob", "F")),
    Operation("disconnect_result", "particles", 1, "ctf"),
]
REBUILT = [
    Operation("disconnect", "particles", 2),
    Operation("disconnect", "particles", 1),
    Operation("connect", "particles", 1, source_job="J8", source_output="particles"),
    Operation("connect_result", "particles", 1, "blob", source=ResultRef("J8", "particles", "blob", "F")),
    Operation("disconnect_result", "particles", 1, "ctf"),
    Operation("connect", "particles", 2, source_job="J7", source_output="particles_selected"),
    Operation("connect_result", "particles", 2, "blob",
              source=ResultRef("J7", "particles_selected", "blob", "F")),
    Operation("disconnect_result", "particles", 2, "ctf"),
]


def _parameters(signature: inspect.Signature) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default) for p in signature.parameters.values() if p.name != "self"]


# --- the installed signatures ------------------------------------------------------------------------


def test_the_adapter_reads_reconnect_as_the_installed_library_declares_it():
    """The adapter reads cryosparc/api.pyi with ast; executed as a module, the stub gives the same."""
    declared = inspect.signature(declared_jobs_api().reconnect)
    read = inspect.signature(installed_endpoints().reconnect)
    assert _parameters(read) == _parameters(declared)
    P = inspect.Parameter
    assert _parameters(declared) == [
        ("project_uid", P.POSITIONAL_ONLY, P.empty), ("job_uid", P.POSITIONAL_ONLY, P.empty),
        ("input_name", P.POSITIONAL_ONLY, P.empty), ("connection_index", P.POSITIONAL_ONLY, P.empty),
        ("source_output_name", P.KEYWORD_ONLY, P.empty), ("source_job_uid", P.KEYWORD_ONLY, P.empty),
    ]
    positional, keyword_only = API_ENDPOINT_PARAMETERS["reconnect"]
    assert [name for name, kind, _ in _parameters(declared) if kind is P.POSITIONAL_ONLY] == list(positional)
    assert [name for name, kind, _ in _parameters(declared) if kind is P.KEYWORD_ONLY] == list(keyword_only)


def test_installed_tools_replace_in_place():
    assert in_place_available() is True
    assert in_place_available(JobController, declared_jobs_api()) is True


class _OlderDisconnect:
    def disconnect(self, target_input, **kwargs): ...  # an index would only be swallowed


@pytest.mark.parametrize("job_api, endpoints, why", [
    (JobController, endpoints_class(())(), "no reconnect endpoint"),
    (JobController, types.SimpleNamespace(reconnect=lambda project_uid, job_uid, input_name, /: None),
     "a reconnect without an index"),
    (_OlderDisconnect, declared_jobs_api(), "a disconnect without connection_idx"),
])
def test_older_apis_fall_back(job_api, endpoints, why):
    assert in_place_available(job_api, endpoints) is False, why
    assert operations(LOADED, REPLACED, in_place=in_place_available(job_api, endpoints)) == REBUILT


def test_without_the_stub_the_installed_library_falls_back(monkeypatch):
    """cryosparc-tools 4.x has no cryosparc/api.pyi."""
    monkeypatch.setattr(adapter_module, "installed_api_stub", lambda: None)
    assert installed_endpoints() is None and in_place_available() is False
    assert planned_operations(LOADED, REPLACED) == REBUILT


# --- operations ---------------------------------------------------------------------------------------


def test_replacing_connection_n_in_place_and_rebuilt():
    assert operations(LOADED, REPLACED, in_place=True) == IN_PLACE
    assert operations(LOADED, REPLACED, in_place=False) == REBUILT
    assert planned_operations(LOADED, REPLACED) == IN_PLACE  # the installed library has reconnect


def test_removing_a_middle_connection_in_place():
    removed = particles(LOADED[0].connections[0], LOADED[0].connections[2])
    assert operations(LOADED, removed, in_place=True) == [Operation("disconnect", "particles", 1)]
    assert operations(LOADED, removed, in_place=False)[:2] == [Operation("disconnect", "particles", i) for i in (2, 1)]


def test_replacing_and_appending_in_place():
    wanted = particles(connection("J5", ctf="J2"), connection("J8"), connection("J7", "particles_selected"),
                       connection("J9"))
    ops = operations(LOADED, wanted, in_place=True)
    assert ops == IN_PLACE + [
        Operation("connect", "particles", 3, source_job="J9", source_output="particles"),
        Operation("connect_result", "particles", 3, "blob", source=ResultRef("J9", "particles", "blob", "F")),
        Operation("disconnect_result", "particles", 3, "ctf"),
    ]


def test_slot_edit_on_a_later_connection_keeps_its_index():
    wanted = particles(connection("J5", ctf="J2"), connection("J8"), connection("J7", "particles_selected", ctf="J3"))
    assert operations(LOADED, wanted, in_place=True) == IN_PLACE + [
        Operation("connect_result", "particles", 2, "ctf", source=ResultRef("J3", "exposures", "ctf", "F")),
    ]


# --- every planned call bound against the installed library ---------------------------------------------


def test_planned_calls_bind_against_the_installed_signatures():
    declared = declared_jobs_api()
    bound = []
    for op in operations(LOADED, REPLACED, in_place=True) + [Operation("disconnect", "particles", 1)]:
        call = planned_call(op, "P3", "J12")
        real = getattr(JobController, call.name) if call.owner == "job" else getattr(declared, call.name)
        arguments = inspect.signature(real).bind(None, *call.args, **call.keywords).arguments
        assert not arguments.get("kwargs"), "nothing may land in **kwargs"
        bound.append((call.owner, call.name, {k: v for k, v in arguments.items() if k != "self"}))
    assert bound == [
        ("api.jobs", "reconnect", {"project_uid": "P3", "job_uid": "J12", "input_name": "particles",
                                   "connection_index": 1, "source_output_name": "particles", "source_job_uid": "J8"}),
        ("job", "connect_result", {"target_input": "particles", "connection_idx": 1, "slot": "blob",
                                   "source_job_uid": "J8", "source_output": "particles", "source_result": "blob",
                                   "source_version": "F"}),
        ("job", "disconnect_result", {"target_input": "particles", "connection_idx": 1, "slot": "ctf"}),
        ("job", "disconnect", {"target_input": "particles", "connection_idx": 1}),
    ]
    # the declared endpoint takes its index positionally only: a keyword would not bind
    with pytest.raises(TypeError):
        inspect.signature(declared.reconnect).bind(None, "P3", "J12", "particles", connection_index=1,
                                                   source_output_name="particles", source_job_uid="J8")


def _recording_endpoints(state: ServerState, calls: list, model, names=("connect", "disconnect", "reconnect",
                                                                         "connect_result", "disconnect_result")):
    """An ``api.jobs`` namespace whose endpoints have the declared signatures, record their bound
    arguments, change ``state`` and return the job model (what JobController stores)."""
    declared = declared_jobs_api()

    def endpoint(name: str):
        signature = inspect.signature(getattr(declared, name))

        def call(self, *args, **kwargs):
            arguments = dict(signature.bind(self, *args, **kwargs).arguments)
            arguments.pop("self")
            calls.append((name, arguments))
            state.endpoint_call(name, arguments)
            return model

        call.__signature__ = signature
        return call

    return type("DeclaredJobsAPI", (), {name: endpoint(name) for name in names})()


class _RealJobServer:
    """A real cryosparc-tools JobController whose client is the recording namespace above."""

    def __init__(self, groups, reconnect: bool = True) -> None:
        self.state = ServerState(groups)
        self.calls: list = []
        model = types.SimpleNamespace(status="building")
        names = ("connect", "disconnect", "connect_result", "disconnect_result") + (("reconnect",) if reconnect else ())
        self.job = object.__new__(JobController)
        self.job.cs = types.SimpleNamespace(api=types.SimpleNamespace(
            jobs=_recording_endpoints(self.state, self.calls, model, names)))
        self.job.project_uid, self.job.uid, self.job.model = "P3", "J12", model

    def factory(self, settings):
        job = self.job
        return types.SimpleNamespace(find_project=lambda uid: types.SimpleNamespace(find_job=lambda uid: job))


def test_the_real_job_controller_makes_the_in_place_calls_and_leaves_later_connections_alone():
    server = _RealJobServer(LOADED)
    before = list(server.state.connections("particles"))
    report = apply_plan(PLAN, planned_operations(LOADED, REPLACED), settings=SETTINGS, client_factory=server.factory)
    assert report.ok and len(report.applied) == 3
    assert server.calls == [
        ("reconnect", {"project_uid": "P3", "job_uid": "J12", "input_name": "particles", "connection_index": 1,
                       "source_output_name": "particles", "source_job_uid": "J8"}),
        ("connect_result", {"project_uid": "P3", "job_uid": "J12", "input_name": "particles", "connection_index": 1,
                            "result_name": "blob", "source_job_uid": "J8", "source_output_name": "particles",
                            "source_result_name": "blob", "source_result_version": "F"}),
        ("disconnect_result", {"project_uid": "P3", "job_uid": "J12", "input_name": "particles",
                               "connection_index": 1, "result_name": "ctf"}),
    ]
    after = server.state.connections("particles")
    assert after[0] is before[0] and after[2] is before[2]  # the same objects: never touched
    assert after[1] is not before[1]
    assert all(arguments["connection_index"] == 1 for _, arguments in server.calls)
    assert server.state.snapshot() == expected_state(REPLACED)


def test_the_real_job_controller_rebuilds_without_reconnect():
    server = _RealJobServer(LOADED, reconnect=False)
    before = list(server.state.connections("particles"))
    report = apply_plan(PLAN, operations(LOADED, REPLACED, in_place=False), settings=SETTINGS,
                        client_factory=server.factory)
    assert report.ok
    assert [(name, a.get("connection_index")) for name, a in server.calls] == [
        ("disconnect", 2), ("disconnect", 1), ("connect", None), ("connect_result", 1), ("disconnect_result", 1),
        ("connect", None), ("connect_result", 2), ("disconnect_result", 2),
    ]
    after = server.state.connections("particles")
    assert after[0] is before[0] and after[2] is not before[2]  # the later connection was rebuilt
    assert server.state.snapshot() == expected_state(REPLACED)


def test_the_real_job_controller_removes_one_middle_connection():
    removed = particles(LOADED[0].connections[0], LOADED[0].connections[2])
    server = _RealJobServer(LOADED)
    before = list(server.state.connections("particles"))
    assert apply_plan(PLAN, planned_operations(LOADED, removed), settings=SETTINGS, client_factory=server.factory).ok
    assert server.calls == [("disconnect", {"project_uid": "P3", "job_uid": "J12", "input_name": "particles",
                                            "connection_index": 1})]
    assert server.state.connections("particles") == [before[0], before[2]]
    assert server.state.connections("particles")[1] is before[2]
    assert server.state.snapshot() == expected_state(removed)


# --- refusals ---------------------------------------------------------------------------------------


def test_a_server_without_reconnect_is_refused_before_any_call():
    server = FakeServer(groups=LOADED, reconnect=False)
    before = server.state.snapshot()
    with pytest.raises(ApplyError) as caught:
        apply_plan(PLAN, planned_operations(LOADED, REPLACED), settings=SETTINGS, client_factory=server.factory)
    message = str(caught.value)
    assert "CryoSPARC at http://cryosparc.test:39000 has no api.jobs.reconnect" in message
    assert "replace connection particles.1 with J8.particles in place" in message and "Nothing was sent" in message
    assert server.lookups == [("project", "P3"), ("job", "J12")] and server.calls == []
    assert server.state.snapshot() == before
    assert caught.value.report.applied == [] and caught.value.report.not_attempted == IN_PLACE


def test_installed_tools_without_reconnect_refuse_an_in_place_plan(monkeypatch):
    monkeypatch.setattr(adapter_module, "installed_endpoints", lambda namespace="JobsAPI": None)
    server = FakeServer(groups=LOADED)
    with pytest.raises(ApplyError, match=r"the installed cryosparc-tools \([^)]*\) has no api.jobs.reconnect"):
        apply_plan(PLAN, IN_PLACE, settings=SETTINGS, client_factory=server.factory)
    assert server.lookups == [] and server.calls == []


def test_the_fake_server_sees_the_in_place_calls():
    server = FakeServer(groups=LOADED)
    before = list(server.state.connections("particles"))
    assert apply_plan(PLAN, IN_PLACE, settings=SETTINGS, client_factory=server.factory).ok
    assert [name for name, _ in server.calls] == ["reconnect", "connect_result", "disconnect_result"]
    assert server.calls[0][1] == {"project_uid": "P3", "job_uid": "J12", "input_name": "particles",
                                  "connection_index": 1, "source_output_name": "particles", "source_job_uid": "J8"}
    assert server.state.connections("particles")[2] is before[2]
    assert server.state.snapshot() == expected_state(REPLACED)


# --- what the user confirms ---------------------------------------------------------------------------


def test_confirmation_lists_the_calls_in_order():
    text = describe_calls(IN_PLACE, "P3", "J12")
    lines = text.splitlines()
    assert lines[:7] == [
        "3 call(s) to J12 in project P3, in this order:",
        "1. replace connection particles.1 with J8.particles in place",
        '   cs.api.jobs.reconnect("P3", "J12", "particles", 1, source_output_name="particles", source_job_uid="J8")',
        "2. connect J8.particles.blob.F to particles.1.blob",
        '   job.connect_result(target_input="particles", connection_idx=1, slot="blob", source_job_uid="J8", '
        'source_output="particles", source_result="blob", source_version="F")',
        "3. clear particles.1.ctf",
        '   job.disconnect_result(target_input="particles", connection_idx=1, slot="ctf")',
    ]
    assert "cs.api.jobs.reconnect replaces a connection where it stands" in lines[7]
    assert len(lines) == 8


def test_confirmation_of_a_rebuild_says_why():
    text = describe_calls(REBUILT, "P3", "J12", in_place=False)
    lines = text.splitlines()
    assert lines[0] == "8 call(s) to J12 in project P3, in this order:"
    assert lines[1:5] == [
        "1. disconnect connection particles.2",
        '   job.disconnect(target_input="particles", connection_idx=2)',
        "2. disconnect connection particles.1",
        '   job.disconnect(target_input="particles", connection_idx=1)',
    ]
    assert lines[5:7] == [
        "3. connect J8.particles to input particles (new connection 1)",
        '   job.connect(target_input="particles", source_job_uid="J8", source_output="particles")',
    ]
    assert "has no api.jobs.reconnect" in lines[-1] and "connected again in order" in lines[-1]


def test_prepared_apply_details_list_the_calls(demo_project, monkeypatch):
    session = EditSession(load_project(demo_project), "J12")
    session.put_group("volume", "J8", "volume_class_0", connection=0)
    pending = routes.prepare_apply(session, {"url": "http://cs.example.org:39000"})
    lines = pending.details.splitlines()
    assert lines[:5] == [
        "2 call(s) to J12 in project P3, in this order:",
        "1. replace connection volume.0 with J8.volume_class_0 in place",
        '   cs.api.jobs.reconnect("P3", "J12", "volume", 0, source_output_name="volume_class_0", source_job_uid="J8")',
        "2. connect J8.volume_class_0.map.F to volume.0.map",
        '   job.connect_result(target_input="volume", connection_idx=0, slot="map", source_job_uid="J8", '
        'source_output="volume_class_0", source_result="map", source_version="F")',
    ]
    # an older cryosparc-tools: the same edit is rebuilt, and the details say so
    monkeypatch.setattr(adapter_module, "in_place_available", lambda *a, **k: False)
    pending = routes.prepare_apply(session, {"url": "http://cs.example.org:39000"})
    lines = pending.details.splitlines()
    assert lines[0] == "3 call(s) to J12 in project P3, in this order:"
    assert lines[2] == '   job.disconnect(target_input="volume", connection_idx=0)'
    assert lines[4] == '   job.connect(target_input="volume", source_job_uid="J8", source_output="volume_class_0")'
    assert "has no api.jobs.reconnect" in lines[-1]


# --- the script ---------------------------------------------------------------------------------------


def test_script_makes_the_same_in_place_calls(tmp_path, monkeypatch):
    ops = planned_operations(LOADED, REPLACED)
    text = render_script(PLAN, ops)
    compile(text, "rebind.py", "exec")
    assert ('    cs.api.jobs.reconnect(\n        "P3",  # project_uid\n        "J12",  # job_uid\n'
            '        "particles",  # input_name\n        1,  # connection_index\n'
            '        source_output_name="particles",\n        source_job_uid="J8",\n    )') in text
    script = tmp_path / "rebind.py"
    script.write_text(text)
    server = FakeServer(groups=LOADED)
    before = list(server.state.connections("particles"))
    _run_script(script, server, monkeypatch)
    live = FakeServer(groups=LOADED)
    apply_plan(PLAN, ops, settings=SETTINGS, client_factory=live.factory)
    assert server.calls == _script_calls(ops)

    def filled(calls):  # the script leaves a final version to the library's default, "F"
        return [(name, {**({"source_version": "F"} if name == "connect_result" else {}), **a}) for name, a in calls]

    assert filled(server.calls) == filled(live.calls)
    assert server.calls[0] == live.calls[0] == ("reconnect", {
        "project_uid": "P3", "job_uid": "J12", "input_name": "particles", "connection_index": 1,
        "source_output_name": "particles", "source_job_uid": "J8"})
    assert server.state.connections("particles")[2] is before[2]
    assert server.state.snapshot() == expected_state(REPLACED)


def test_script_stops_before_any_call_without_reconnect(tmp_path, monkeypatch):
    script = tmp_path / "rebind.py"
    script.write_text(render_script(PLAN, planned_operations(LOADED, REPLACED)))
    server = FakeServer(groups=LOADED, reconnect=False)
    with pytest.raises(SystemExit, match="no api.jobs.reconnect"):
        _run_script(script, server, monkeypatch)
    assert server.calls == []


# --- any edit: both ways reach the same connections, in place with no more calls -------------------------

_sources = st.sampled_from(["J5", "J6", "J7", "J8"])
_connections = st.builds(connection, _sources, st.just("particles"), st.sampled_from([None, "J2", "J3"]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(old=st.lists(_connections, max_size=5), new=st.lists(_connections, max_size=5))
def test_any_edit_reaches_the_wanted_connections(old, new):
    loaded, wanted = particles(*old), particles(*new)
    results = {}
    for in_place in (True, False):
        ops = operations(loaded, wanted, in_place=in_place)
        server = FakeServer(groups=loaded)
        assert apply_plan(PLAN, ops, settings=SETTINGS, client_factory=server.factory).ok
        assert server.state.snapshot() == expected_state(wanted)
        results[in_place] = ops
    assert len(results[True]) <= len(results[False])
    if [(c.job, c.output) for c in old] == [(c.job, c.output) for c in new]:
        assert results[True] == results[False]  # only slots change: nothing to replace
