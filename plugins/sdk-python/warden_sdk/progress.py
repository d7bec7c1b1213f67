"""Progress of the current call. The host forwards reports to the client
when it asked for progress and drops them otherwise::

    from warden_sdk import progress
    progress.report(done, total=len(items), message="reading files")
"""

from __future__ import annotations

from . import _host


def report(progress: float, total: float | None = None, message: str | None = None) -> None:
    """Reports ``progress`` (increasing with each report) out of ``total``."""
    if _host.wit_progress is None:
        return
    try:
        _host.wit_progress.report(
            float(progress), None if total is None else float(total), message
        )
    except Exception:  # pragma: no cover - never fail a call over progress
        pass
