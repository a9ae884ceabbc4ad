"""Errors raised by genoseq on bad input.

Every error that genoseq raises because of a file, a record or an argument a user
gave it is a :class:`GenoseqError`. Messages name the file, the line or record, and
what was expected, so a user can fix the input without reading the source.
"""

from __future__ import annotations

from os import PathLike


class GenoseqError(Exception):
    """Base class of every error genoseq raises on bad input or bad configuration."""


class InputError(GenoseqError, ValueError):
    """A file or record that cannot be read as its format requires.

    Args:
        message: what was wrong and what was expected.
        path: the file the problem is in, if any.
        line: 1-based line number (or record number, see ``what``), if known.
        what: the noun for ``line`` in the message ("line", "record", "position").
    """

    def __init__(
        self,
        message: str,
        path: str | PathLike[str] | None = None,
        line: int | None = None,
        what: str = "line",
    ) -> None:
        self.path = None if path is None else str(path)
        self.line = line
        self.reason = message
        where = ""
        if self.path is not None:
            where = self.path
            if line is not None:
                where += f", {what} {line}"
            where += ": "
        elif line is not None:
            where = f"{what} {line}: "
        super().__init__(where + message)


class ConfigError(GenoseqError, ValueError):
    """An invalid model configuration, recipe or option."""


class DependencyError(GenoseqError, ImportError):
    """An optional dependency needed for the requested feature is missing."""

    def __init__(self, package: str, feature: str, extra: str | None = None) -> None:
        hint = f"pip install 'genoseq[{extra}]'" if extra else f"pip install {package}"
        super().__init__(f"{feature} needs the package '{package}', which is not installed: run {hint}")
