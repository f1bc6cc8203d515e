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

Picking by name scanned every name of the bucket too: 15 ms a page for a
trail of 300,000 objects, a second of the emulator's time in a night that
lists 77 pages. The names are kept sorted per bucket, so a page finds its
prefix and its start by bisection; whatever may add or remove a name drops
that bucket's sorted names (the next listing sorts them again).
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator
from typing import Any

from moto.s3.exceptions import MethodNotAllowed
from moto.s3.models import FakeDeleteMarker, FakeTableStorageBucket, S3Backend
from moto.s3.utils import _VersionedKeyStore

from auditor.sandbox.patching import Patches

# A key store keeps its names sorted under this attribute, with the fill's generation: whatever may change
# the names drops them (the emulator serves on many threads), and names sorted before the fill was last
# installed are not trusted (moto's own classes may have changed them unseen).
_SORTED = "_sorted_names"
_sorting = threading.Lock()
_generation = 0
# what a key store inherits or defines that can add or remove a name
_CHANGES_NAMES = ("__setitem__", "__delitem__", "setlist", "pop", "popitem", "setdefault", "update", "clear")


def _names(store: _VersionedKeyStore) -> list[str]:
    """``store``'s names in order; sorted again only after a change (a change drops them after it is made)."""
    with _sorting:
        generation, names = store.__dict__.get(_SORTED, (None, None))
        if generation != _generation or names is None:
            names = sorted(dict.keys(store))
            store.__dict__[_SORTED] = (_generation, names)
        return names


def _dropping_names(method: Callable[..., Any]) -> Callable[..., Any]:
    def changed(self: _VersionedKeyStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        finally:
            with _sorting:
                self.__dict__.pop(_SORTED, None)

    return changed


def _under(names: list[str], prefix: str, after: str | None = None) -> Iterator[str]:
    """The names that start with ``prefix`` (and sort after ``after``), in order."""
    start = bisect_left(names, prefix)
    if after is not None:
        start = max(start, bisect_right(names, after))
    for index in range(start, len(names)):
        name = names[index]
        if not name.startswith(prefix):
            return
        yield name


def _list_objects(
    self: S3Backend, bucket: Any, prefix: str | None, delimiter: str | None, marker: str | None, max_keys: int | None
) -> tuple[list, list[str], bool, str | None]:
    if isinstance(bucket, FakeTableStorageBucket):
        raise MethodNotAllowed()
    store = bucket.keys
    prefix = prefix or ""
    names = _names(store)
    after = (self._pagination_tokens.get(marker) or marker) if marker else None  # moto resumes after this name
    folders: set[str] = set()
    if delimiter:  # moto groups every name under the prefix, the page's start aside
        listed = []
        for name in _under(names, prefix):
            rest = name[len(prefix) :]
            if delimiter in rest:
                folders.add(f"{prefix}{rest.split(delimiter)[0]}{delimiter}")
            elif after is None or name > after:
                listed.append(name)
        candidates: Iterator[str] = iter(listed)
    else:
        candidates = _under(names, prefix, after)
    wanted = None if max_keys is None else max_keys + 1  # one more tells whether the page is truncated
    key_results = []
    for name in candidates:
        key = store.get(name)  # the latest version, as moto's walk reads it (None: removed since sorted)
        if key is None or isinstance(key, FakeDeleteMarker):
            continue
        key_results.append(key)
        if wanted is not None and len(key_results) == wanted:
            break
    if max_keys is None:
        return key_results, sorted(folders), False, None
    key_results, truncated, next_marker = self._truncate_result(key_results, max_keys)
    return key_results, sorted(folders), truncated, next_marker


def install(patches: Patches) -> None:
    global _generation
    with _sorting:
        _generation += 1  # names may have changed while moto's own classes served
    for name in _CHANGES_NAMES:
        patches.set(_VersionedKeyStore, name, _dropping_names(getattr(_VersionedKeyStore, name)))
    patches.set(S3Backend, "list_objects", _list_objects)
