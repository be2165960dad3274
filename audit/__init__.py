"""Survey & award-integrity auditor: is this customer-service number credible?

    >>> from audit import run_audit
    >>> report = run_audit("responses.csv", "interactions.csv", "claim.json")
    >>> report.credibility.score, report.credibility.grade

The package imports its engine lazily, so that `import audit.metrics` stays light.
"""
from __future__ import annotations

from typing import Any

__all__ = ["AuditReport", "InputError", "run_audit"]


def __getattr__(name: str) -> Any:
    if name in ("AuditReport", "run_audit"):
        from audit import pipeline
        return getattr(pipeline, name)
    if name == "InputError":
        from audit.errors import InputError
        return InputError
    raise AttributeError(name)
