"""Where the bundled resources live: the repository's ``resources/`` or the installed copy."""

from __future__ import annotations

from pathlib import Path


def resource_path(*parts: str) -> Path:
    """Path of a bundled resource, from a source checkout or an installed wheel."""
    here = Path(__file__).resolve().parent
    for root in (here.parent / "resources", here / "resources"):
        if root.is_dir():
            return root.joinpath(*parts)
    return here.parent.joinpath("resources", *parts)
