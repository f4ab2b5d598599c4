"""The one error type for mistakes a user can cause (bad file, folder or option)."""

from __future__ import annotations


class LatentLabError(Exception):
    """A problem the user can act on. The message is shown as-is (dialog or CLI line)."""
