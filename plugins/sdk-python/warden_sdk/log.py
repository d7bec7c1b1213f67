"""Logging into the host's log (tagged with the plugin and tool; never sent
to the MCP client)::

    from warden_sdk import log
    log.info("scanned %d rows", rows)

Arguments after the message are %-formatted like the ``logging`` module's.
Outside a component, messages go to stderr.
"""

from __future__ import annotations

import sys
from typing import Any

from . import _host

_LEVELS = ("trace", "debug", "info", "warn", "error")


def log(level: str, message: str, *args: Any) -> None:
    """Records ``message`` at ``level`` (trace, debug, info, warn, error)."""
    if args:
        try:
            message = message % args
        except (TypeError, ValueError):
            message = " ".join([message, *map(str, args)])
    if level not in _LEVELS:
        level = "info"
    if _host.wit_log is not None:
        try:
            _host.wit_log.log(getattr(_host.wit_log.Level, level.upper()), message)
            return
        except Exception:  # pragma: no cover - e.g. called during pre-init
            pass
    print(f"[{level}] {message}", file=sys.stderr)


def trace(message: str, *args: Any) -> None:
    log("trace", message, *args)


def debug(message: str, *args: Any) -> None:
    log("debug", message, *args)


def info(message: str, *args: Any) -> None:
    log("info", message, *args)


def warn(message: str, *args: Any) -> None:
    log("warn", message, *args)


warning = warn


def error(message: str, *args: Any) -> None:
    log("error", message, *args)
