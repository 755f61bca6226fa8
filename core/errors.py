"""Errors a user can act on: each carries a hint that says what to do next."""

from __future__ import annotations


class XmodalError(Exception):
    """A fatal, expected error: shown to the user as a message and a hint, never a traceback."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class LibraryNotFound(XmodalError):
    """Raised when a read-only command points at a folder that holds no library."""


class LibraryLocked(XmodalError):
    """Raised when another process already writes the library."""

    exit_code = 3


class LibraryIncompatible(XmodalError):
    """Raised when the library was written by a newer xmodal or is damaged beyond repair."""


class ModelError(XmodalError):
    """Raised when a model cannot be resolved, downloaded or loaded."""


class ModelMismatch(XmodalError):
    """Raised when a command asks for a model other than the one that made the library's vectors."""


class InputError(XmodalError):
    """Raised for bad user input: a missing folder, an unreadable query image, an empty query."""

    exit_code = 2


class NotFound(InputError):
    """Raised when an id names nothing in the library (the API answers 404)."""


class NotAnImage(InputError):
    """Raised when a query file is not a picture xmodal can read (the API answers 415)."""


class ClusterError(XmodalError):
    """Raised when the Ray cluster cannot be reached, or cannot read or encode what the run gave it."""
