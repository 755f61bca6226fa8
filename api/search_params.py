"""The query parameters a search takes: core/options.py's declarations (paging, filters, ordering and the
ranking stages' switches), read by FastAPI as one model each, with the help texts and bounds written there.
`xmodal search` makes its flags from the same declarations (api/cli_options.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from core.options import Paging, SearchOptions


def search_options(options: Annotated[SearchOptions, Query()]) -> SearchOptions:
    return options


def paging(options: Annotated[Paging, Query()]) -> Paging:
    return options


Options = Annotated[SearchOptions, Depends(search_options)]
PageOptions = Annotated[Paging, Depends(paging)]
