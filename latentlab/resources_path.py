"""Where the bundled resources live: the repository's ``resources/`` or the installed copy."""

from __future__ import annotations

from pathlib import Path


def resource_path(*parts: str) -> Path:
    """Path of a bundled resource, from a source checkout or an installed wheel."""
    here = Path(__file__).resolve().parent
    # The installed copy first: next to an installed package, site-packages/resources may be another
    # project's folder.
    for root in (here / "resources", here.parent / "resources"):
        if root.is_dir():
            return root.joinpath(*parts)
    return here.parent.joinpath("resources", *parts)
