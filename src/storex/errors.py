"""The one error tree of StoreX.

::

    StorexError
    ├── ConfigError            settings that cannot work together
    ├── DataError              input that cannot be read as promised (names file, line, column)
    │   ├── MissingDataError   a file or folder that is not there
    │   └── EmptyDataError     nothing left to work with (e.g. after k-core filtering)
    ├── NotFittedError         an encoder or model used before ``fit``
    └── ModelError             a model or artifact that cannot be built, loaded or trained

The service maps each class to one HTTP status in one handler; the CLI prints the message.
"""

from __future__ import annotations

from pathlib import Path


class StorexError(Exception):
    """Base of every error StoreX raises on purpose."""


class ConfigError(StorexError):
    """Settings or arguments that cannot work together."""


class DataError(StorexError):
    """Input that cannot be read as promised.

    The message always says where (file, and line or column when known) and what was expected.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        column: str | None = None,
    ) -> None:
        self.path = None if path is None else str(path)
        self.line = line
        self.column = column
        where = [part for part in (self.path, _fmt("line", line), _fmt("column", column)) if part]
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class MissingDataError(DataError):
    """A file or folder that should exist does not."""


class EmptyDataError(DataError):
    """Nothing is left to work with."""


class NotFittedError(StorexError):
    """An estimator was used before ``fit``."""


class ModelError(StorexError):
    """A model or artifact that cannot be built, loaded or trained."""


def _fmt(label: str, value: object) -> str | None:
    if value is None:
        return None
    return f"{label} {value!r}" if isinstance(value, str) else f"{label} {value}"
