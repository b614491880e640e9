"""Errors and warnings shared by every module.

Bad input must name what is wrong and where: the file, the column, the row and the value, when
they are known. ``InputError`` carries those as attributes and puts them at the front of its
message, so a user reading a traceback sees ``file 'export.csv', column 'Survival months',
row 17, value 'abc': not a number``.
"""

from __future__ import annotations


class MicrometError(Exception):
    """Base class of every error micromet raises on purpose."""


class InputError(MicrometError, ValueError):
    """Input data or parameters that micromet cannot use.

    ``row`` is the 1-based data row of the file (header not counted) when the error comes from a
    file, else the index label of the offending row.
    """

    def __init__(self, message: str, *, file=None, column=None, row=None, value=None):
        self.reason = message
        self.file = None if file is None else str(file)
        self.column = column
        self.row = row
        self.value = value
        super().__init__(self._format())

    def __reduce__(self):  # pickled with its fields (an error raised in a forked process)
        return (_input_error, (type(self), self.reason, self.file, self.column, self.row,
                               self.value))

    def _format(self) -> str:
        where = []
        if self.file is not None:
            where.append(f"file '{self.file}'")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.value is not None:
            where.append(f"value {self.value!r}")
        return (", ".join(where) + ": " + self.reason) if where else self.reason


def _input_error(cls, reason, file, column, row, value):
    return cls(reason, file=file, column=column, row=row, value=value)


class NotEstimableWarning(UserWarning):
    """A model term cannot be estimated (no events in a level, separation, aliasing)."""


class UnstableWarning(UserWarning):
    """A model's design is ill-conditioned: its estimates may move with rounding (micromet.design
    conditioning: scaled condition number or variance inflation factors above their thresholds)."""
