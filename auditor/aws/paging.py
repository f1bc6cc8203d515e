"""Pagination: every page of a listing, the tokens followed by botocore's paginator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def pages(aws_client: Any, operation: str, page_size: int | None = None, **params: Any) -> Iterator[dict]:
    """Every page of a paginated operation; ``page_size`` asks for the largest pages (fewest calls)."""
    config = {"PageSize": page_size} if page_size else {}
    yield from aws_client.get_paginator(operation).paginate(PaginationConfig=config, **params)
