"""The one exception the engine raises for unusable input.

Every message names the file and, where it applies, the row and column, and says what
was expected, so that the CLI can print it on one line and the app can show it inline.
"""
from __future__ import annotations


class InputError(ValueError):
    """Unusable input: the audit cannot run on it as given.

    ``row`` is the row number as a spreadsheet shows it (the header is row 1).
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
        expected: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.row = row
        self.column = column
        self.expected = expected
        super().__init__(str(self))

    def __str__(self) -> str:
        where = [part for part in (
            self.file,
            f"row {self.row}" if self.row is not None else None,
            f"column '{self.column}'" if self.column is not None else None,
        ) if part]
        text = self.message
        if self.expected:
            text = f"{text} (expected {self.expected})"
        text = f"{', '.join(where)}: {text}" if where else text
        # one line (SPEC): a header or a library's message quoted in it may hold line breaks
        return " ".join(text.splitlines())
