"""What ``collab`` exits with: one code per kind of failure, so scripts can tell them apart."""

from __future__ import annotations

from enum import IntEnum

from collab.errors import BudgetExceeded, UserError

__all__ = ["ExitCode", "exit_code_for"]


class ExitCode(IntEnum):
    """The exit status of every ``collab`` command."""

    OK = 0
    FAILURE = 1
    """A model, network, server or model-file failure at run time (or a bug)."""
    USAGE = 2
    """Misuse: a bad argument, an unknown model or example, a missing key."""
    BUDGET = 3
    """A budget limit stopped the run (policy "raise")."""
    INTERRUPTED = 130
    """Ctrl-C (128 + SIGINT), as shells report it."""


def exit_code_for(error: BaseException) -> ExitCode:
    """The exit code for an error that ended a command."""
    if isinstance(error, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
    if isinstance(error, UserError):
        return ExitCode.USAGE
    if isinstance(error, BudgetExceeded):
        return ExitCode.BUDGET
    return ExitCode.FAILURE


EPILOG = """\
exit codes:
  0    success
  1    a model, network or server failure at run time
  2    usage error (bad argument, unknown model or example, missing API key)
  3    budget exhausted (a limit stopped the run)
  130  interrupted (Ctrl-C)
"""
"""The exit codes as ``collab --help`` lists them."""
