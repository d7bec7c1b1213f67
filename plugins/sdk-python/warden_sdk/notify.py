"""Announcements: ask the host to describe the plugin again after this call
(a file appeared, ...) or to tell subscribers that a resource changed::

    from warden_sdk import notify
    notify.list_changed("resources")
    notify.resource_updated("data:///sales.csv")
"""

from __future__ import annotations

from . import _host


def list_changed(kind: str) -> None:
    """``kind`` is ``"tools"``, ``"prompts"`` or ``"resources"``."""
    if kind not in ("tools", "prompts", "resources"):
        raise ValueError(f"unknown list kind {kind!r}: use tools, prompts or resources")
    if _host.wit_notify is not None:
        _host.wit_notify.list_changed(getattr(_host.wit_notify.ListKind, kind.upper()))


def resource_updated(uri: str) -> None:
    """The resource at ``uri`` (the plugin's own URI) changed."""
    if _host.wit_notify is not None:
        _host.wit_notify.resource_updated(uri)
