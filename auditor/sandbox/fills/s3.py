"""S3 listings: ListObjects and ListObjectsV2 answer as moto does, at the cost S3's index has.

moto serves every page of a listing by walking every key of the bucket
through its versioned key store (a Python call per key, for every page),
so a listing under one prefix costs as much as the whole bucket: a trail
bucket of 100,000 log objects made each ListObjectsV2 page about 100 ms of
the emulator's time, where S3 serves a page from an index. That cost, not
the product's, decided a benchmark's second night. The fill picks the keys
under the prefix and after the page's start by their names first, and reads
the latest versions of only the page's keys; it groups, sorts, resumes and
truncates as moto does, so every answer is moto's own
(tests/test_sandbox_fill_s3.py compares them).
"""

from __future__ import annotations

from typing import Any

from moto.s3.exceptions import MethodNotAllowed
from moto.s3.models import FakeDeleteMarker, FakeTableStorageBucket, S3Backend

from auditor.sandbox.patching import Patches


def _list_objects(
    self: S3Backend, bucket: Any, prefix: str | None, delimiter: str | None, marker: str | None, max_keys: int | None
) -> tuple[list, list[str], bool, str | None]:
    if isinstance(bucket, FakeTableStorageBucket):
        raise MethodNotAllowed()
    store = bucket.keys
    prefix = prefix or ""
    names = [name for name in dict.keys(store) if name.startswith(prefix)] if prefix else list(dict.keys(store))
    listed, folders = [], set()
    for name in names:
        rest = name[len(prefix) :]
        if delimiter and delimiter in rest:
            folders.add(f"{prefix}{rest.split(delimiter)[0]}{delimiter}")
        else:
            listed.append(name)
    if marker:  # moto resumes after the name a token stands for, or after the marker itself
        after = self._pagination_tokens.get(marker) or marker
        listed = [name for name in listed if name > after]
    listed.sort()
    wanted = None if max_keys is None else max_keys + 1  # one more tells whether the page is truncated
    key_results = []
    for name in listed:
        key = store[name]  # the latest version, as moto's walk reads it
        if isinstance(key, FakeDeleteMarker):
            continue
        key_results.append(key)
        if wanted is not None and len(key_results) == wanted:
            break
    if max_keys is None:
        return key_results, sorted(folders), False, None
    key_results, truncated, next_marker = self._truncate_result(key_results, max_keys)
    return key_results, sorted(folders), truncated, next_marker


def install(patches: Patches) -> None:
    patches.set(S3Backend, "list_objects", _list_objects)
