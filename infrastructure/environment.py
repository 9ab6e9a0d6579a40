"""Problems of the environment Casework runs in, not of Casework or of its input.

A port another program holds, a server that will not start or does not answer, key
files that are not those the data was made with: nothing Casework does can fix them,
and a traceback would only hide the one thing a person needs, which is what happened
and which setting to change. Code that finds such a problem raises `EnvironmentProblem`
with the cause and the setting (an environment variable or a command-line option); the
command line turns it into that one line and exit code 3 in one place
(casework/cli/output.py `environment_failure`).
"""

from __future__ import annotations

from collections.abc import Iterator


def one_line(text: str) -> str:
    """`text` with every run of whitespace, newlines included, made one space."""
    return " ".join(text.split())


class EnvironmentProblem(Exception):
    """The environment stops Casework: `cause` says what happened, `setting` names what
    to change (an environment variable, or a command's option), `remedy` says how (by
    default "change <setting>"; it always names the setting)."""

    def __init__(self, cause: str, setting: str, remedy: str | None = None) -> None:
        self.cause = one_line(cause)
        self.setting = setting
        remedy = one_line(remedy) if remedy else f"change {setting}"
        self.remedy = remedy if setting in remedy else f"{remedy} ({setting})"
        super().__init__(self.line())

    def line(self) -> str:
        """The one line a person reads."""
        return f"{self.cause}; {self.remedy}"


class ServerNotAnswering(EnvironmentProblem, ConnectionError):
    """A server that must answer does not. Also a ConnectionError, so code that waits
    for or retries a server that is down (infrastructure/database.py TRANSIENT_ERRORS)
    treats it as before."""


def causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc`, the exceptions of a group, and what each was raised from."""
    seen: set[int] = set()
    pending = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        if current.__cause__ is not None:
            pending.append(current.__cause__)


def environment_problem_in(exc: BaseException) -> EnvironmentProblem | None:
    """The environment problem behind `exc`: itself, one of an exception group's, or
    one it was raised from (say a service of the stack that stopped because of it)."""
    for candidate in causes(exc):
        if isinstance(candidate, EnvironmentProblem):
            return candidate
    return None
