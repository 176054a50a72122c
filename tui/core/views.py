"""Plain-data views of the model: what the CLI prints as JSON and tables, and what tests compare.

One place decides how a job, an output or an input is summarised, so the CLI's ``--json``
and its human tables cannot drift apart.
"""

from __future__ import annotations

from typing import Any, Iterable

from .gcpause import gc_paused
from .model import Connection, InputGroup, Job, OutputGroup, OutputResult
from .project import Project
from .refs import FINAL


def jobs_view(project: Project) -> dict[str, Any]:
    return {
        "project": {"uid": project.uid, "title": project.title, "path": str(project.path)},
        "workspaces": [{"uid": w.uid, "title": w.title} for w in project.workspaces.values()],
        "jobs": job_summaries(project.jobs.values()),
        "warnings": list(project.warnings),
    }


def job_summaries(jobs: Iterable[Job]) -> list[dict[str, Any]]:
    """What a listing shows of each job. Tuples and the datetime as they are: orjson writes them
    (as lists and ISO 8601) faster than copies made here, which counts at 50,000 jobs; one
    comprehension, no call per job (a call costs about as much as the dict); and the collector
    paused (its passes over 50,000 new dicts, none garbage, took a third as long as making them)."""
    with gc_paused():
        return [
            {
                "uid": job.uid,
                "type": job.type,
                "title": job.title,
                "status": job.status,
                "created_at": job.created_at,
                "parents": job.parents,
                "children": job.children,
                "workspaces": job.workspaces,
                "schema": job.schema,
                "error": job.error,
            }
            for job in jobs
        ]


def result_view(result: OutputResult) -> dict[str, Any]:
    """Tuples as they are (orjson writes them as lists): a job can have 120,000 results."""
    complete = result.complete
    return {
        "name": result.name,
        "dtype": result.dtype,
        "passthrough": result.passthrough,
        "complete": complete,
        "versions": result.versions,
        "num_items": result.final_rows,
        "num_items_per_version": result.num_items,
        "metafiles": result.metafiles,
        "ref": f"{result.job}.{result.output}.{result.name}.{FINAL}",
    }


def output_view(group: OutputGroup) -> dict[str, Any]:
    return {
        "name": group.name,
        "type": group.type,
        "title": group.title,
        "num_items": group.num_items,
        "passthrough_input": group.passthrough_input,
        "results": [result_view(r) for r in group.results],
    }


def outputs_view(job: Job) -> dict[str, Any]:
    return {"job": job.uid, "outputs": [output_view(g) for g in job.outputs]}


def connection_view(group: InputGroup, index: int, connection: Connection) -> dict[str, Any]:
    slots: dict[str, str | None] = {s.name: None for s in group.slots}
    for binding in connection.slot_bindings:
        slots[binding.slot] = str(binding.ref)  # type: ignore[index]
    return {
        "index": index,
        "job": connection.job,
        "output": connection.output,
        "slots": slots,
        "passthrough": [str(b.ref) for b in connection.passthrough],
    }


def input_view(group: InputGroup) -> dict[str, Any]:
    return {
        "name": group.name,
        "type": group.type,
        "title": group.title,
        "count_min": group.count_min,
        "count_max": group.count_max,
        "repeat_allowed": group.repeat_allowed,
        "slots": [{"name": s.name, "dtype": s.dtype, "required": s.required} for s in group.slots],
        "connections": [connection_view(group, i, c) for i, c in enumerate(group.connections)],
    }


def inputs_view(job: Job, inputs: tuple[InputGroup, ...] | None = None) -> dict[str, Any]:
    return {
        "job": job.uid,
        "status": job.status,
        "inputs": [input_view(g) for g in (job.inputs if inputs is None else inputs)],
    }
