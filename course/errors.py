"""Errors the toolkit reports as one clear line (the CLI prints them without a traceback)."""


class NotebookError(ValueError):
    """A notebook breaks a course convention; the message names the file and the cell."""
