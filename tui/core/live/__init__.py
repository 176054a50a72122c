"""Live apply: an edit session's changes as CryoSPARC connection calls, sent to a running instance
through cryosparc-tools, or written as a script that makes the same calls.

``operations``  the session as an ordered list of connection operations (in place, or rebuilt)
``settings``    where and as whom to connect; secrets kept out of every message
``adapter``     the cryosparc-tools method and endpoint tables, the exact call for each
                operation, and what the installed library can do
``apply``       running the calls, with the refusals before anything is sent and the report after
``script``      the same calls as a commented Python script

Nothing here imports cryosparc-tools at module import time.
"""

from .adapter import (
    API_ENDPOINT_PARAMETERS, JOB_METHOD_DEFAULTS, JOB_METHOD_PARAMETERS, Call, accepts_source_version, call_arguments,
    describe_calls, describe_plan_calls, in_place_available, installed_endpoints, planned_call, planned_operations,
)
from .apply import ApplyReport, apply_plan, default_client_factory, server_differences
from .operations import Operation, operations
from .script import render_script, write_script
from .settings import ConnectionSettings, error_text, redact

__all__ = [
    "API_ENDPOINT_PARAMETERS", "JOB_METHOD_DEFAULTS", "JOB_METHOD_PARAMETERS", "ApplyReport", "Call",
    "ConnectionSettings", "Operation", "accepts_source_version", "apply_plan", "call_arguments",
    "default_client_factory", "describe_calls", "describe_plan_calls", "error_text", "in_place_available",
    "installed_endpoints", "operations", "planned_call", "planned_operations", "redact", "render_script", "server_differences",
    "write_script",
]
