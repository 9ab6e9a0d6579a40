"""Why a directory command or lookup was refused; each message names the reason."""

from __future__ import annotations


class DirectoryError(Exception):
    """Base of every refusal by the directories."""


class NotPermitted(DirectoryError, PermissionError):
    """The acting staff member may not do this (only admins change the directories)."""


class Refused(DirectoryError, ValueError):
    """The command breaks a directory rule (duplicate id, missing team, …)."""


class NotFound(DirectoryError, LookupError):
    """No such (active) staff member, team, provider or service."""
