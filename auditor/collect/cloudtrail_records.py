"""Typed, partial decoding of CloudTrail log files, and their event times.

A delivered log object is gzip JSON ``{"Records": [...]}`` (a bare array is
accepted too, the shape of exported event lists). The Structs below declare
only the fields attribution reads; msgspec skips everything else without
building it, which keeps decoding near the cost of gunzip (1.2-1.4x, against
about 5x for a full JSON parse).

Leaves are typed ``Any`` and every container also accepts a non-object
value: sanitised samples and unusual services carry surprises (a numeric
``accountId``, a ``responseElements`` that is a string), and one surprising
record must not make a whole log object unreadable. Attribution checks the
type of every leaf it reads.

The S3 reader decodes leaner still (``read_log``): a ``LeanRecord`` keeps
its nested parts as raw JSON slices of the log file, and only what one log
object repeats a few times is decoded further (each distinct identity
once, and the whole record only for the few events attribution reads
whole): most records build no nested object but their ``resources``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import msgspec
from isal import isal_zlib

# Any JSON value that is not an object: the alternative for every container.
NotObject = str | int | float | bool | list | None


class _Part(msgspec.Struct, gc=False, frozen=True):
    """Base of the decoded parts: no reference cycles, so no GC tracking."""


class OnBehalfOf(_Part):
    userId: Any = None


class SessionIssuer(_Part):
    type: Any = None
    arn: Any = None
    accountId: Any = None
    userName: Any = None


class SessionContext(_Part):
    sessionIssuer: SessionIssuer | NotObject = None


class UserIdentity(_Part):
    type: Any = None
    principalId: Any = None
    arn: Any = None
    accountId: Any = None
    accessKeyId: Any = None
    userName: Any = None
    sessionContext: SessionContext | NotObject = None
    onBehalfOf: OnBehalfOf | NotObject = None


class AdditionalEventData(_Part):
    AuthWorkflowID: Any = None
    UserName: Any = None


class ServiceEventDetails(_Part):
    UserAuthentication: Any = None
    role_name: Any = None
    account_id: Any = None


class RequestParameters(_Part):
    roleArn: Any = None
    roleSessionName: Any = None
    roleName: Any = None
    accountId: Any = None
    # access changes in Identity Center (auditor.collect.cloudtrail_lifecycle)
    targetId: Any = None
    permissionSetArn: Any = None
    principalType: Any = None
    principalId: Any = None
    groupId: Any = None
    memberId: Any = None
    membershipId: Any = None
    userId: Any = None


class ResponseElements(_Part):
    """Sign-in outcomes are keyed by the event name (``{"ConsoleLogin": "Failure"}``)."""

    ConsoleLogin: Any = None
    CheckMfa: Any = None
    ExternalIdPDirectoryLogin: Any = None
    PasswordUpdated: Any = None
    SwitchRole: Any = None
    membershipId: Any = None  # CreateGroupMembership
    userId: Any = None  # CreateUser


class Resource(_Part):
    """One element of a record's ``resources``: ``{"ARN": ..., "accountId": ..., "type": ...}``.

    Some services and sanitised copies write ``arn``; Athena's JSON SerDe
    matches keys without case, so both are read (``arn_of``).
    """

    ARN: Any = None
    arn: Any = None


def arn_of(item: object) -> object:
    """The ARN of one ``resources`` element (decoded, or a plain mapping), however its key is cased."""
    if type(item) is Resource:
        return item.ARN if item.ARN is not None else item.arn
    if isinstance(item, Mapping):
        return item["ARN"] if item.get("ARN") is not None else item.get("arn")
    return None


# ``resources`` as written (a list of objects), or anything else a damaged record carries
Resources = list[Resource | NotObject] | dict | str | int | float | bool | None


class CloudTrailRecord(_Part):
    eventTime: Any = None
    eventSource: Any = None
    eventName: Any = None
    recipientAccountId: Any = None
    errorCode: Any = None
    userIdentity: UserIdentity | NotObject = None
    additionalEventData: AdditionalEventData | NotObject = None
    serviceEventDetails: ServiceEventDetails | NotObject = None
    requestParameters: RequestParameters | NotObject = None
    responseElements: ResponseElements | NotObject = None
    resources: Resources = None  # what right-sizing scopes to

    def whole(self) -> CloudTrailRecord:
        """This record (a ``LeanRecord`` decodes its parts here)."""
        return self

    def request(self) -> RequestParameters | NotObject:
        """``requestParameters`` (a ``LeanRecord`` decodes it alone here)."""
        return self.requestParameters


class LeanRecord(_Part):
    """A record with its nested parts left as raw JSON (``None`` when absent): decode with ``whole``.

    Raw parts compare by their bytes: ``bytes(record.userIdentity)`` keys
    one identity across a log object as the decoded part would.
    """

    eventTime: Any = None
    eventSource: Any = None
    eventName: Any = None
    recipientAccountId: Any = None
    errorCode: Any = None
    userIdentity: msgspec.Raw = None
    additionalEventData: msgspec.Raw = None
    serviceEventDetails: msgspec.Raw = None
    requestParameters: msgspec.Raw = None
    responseElements: msgspec.Raw = None
    resources: Resources = None  # decoded: calls are told apart by their scoped ARNs, not their raw text

    def whole(self) -> CloudTrailRecord:
        """The record decoded as ``decode_log`` decodes it."""
        return CloudTrailRecord(
            eventTime=self.eventTime,
            eventSource=self.eventSource,
            eventName=self.eventName,
            recipientAccountId=self.recipientAccountId,
            errorCode=self.errorCode,
            userIdentity=_part(_IDENTITY, self.userIdentity),
            additionalEventData=_part(_ADDITIONAL, self.additionalEventData),
            serviceEventDetails=_part(_SERVICE_DETAILS, self.serviceEventDetails),
            requestParameters=_part(_REQUEST, self.requestParameters),
            responseElements=_part(_RESPONSE, self.responseElements),
            resources=self.resources,
        )

    def request(self) -> RequestParameters | NotObject:
        """``requestParameters`` decoded, the rest left raw."""
        return _part(_REQUEST, self.requestParameters)


def _part(decoder: msgspec.json.Decoder, raw: msgspec.Raw | None) -> Any:
    # every part's type accepts any JSON value (leaves are Any, containers take non-objects), so this cannot fail
    return None if raw is None else decoder.decode(raw)


class _LogFile(_Part):
    Records: list[CloudTrailRecord] | None = None


class _LeanLogFile(_Part):
    Records: list[LeanRecord] | None = None


class _RawLogFile(_Part):
    Records: list[msgspec.Raw] | None = None


_IDENTITY = msgspec.json.Decoder(UserIdentity | NotObject)
_ADDITIONAL = msgspec.json.Decoder(AdditionalEventData | NotObject)
_SERVICE_DETAILS = msgspec.json.Decoder(ServiceEventDetails | NotObject)
_REQUEST = msgspec.json.Decoder(RequestParameters | NotObject)
_RESPONSE = msgspec.json.Decoder(ResponseElements | NotObject)
_FULL = (
    msgspec.json.Decoder(_LogFile),
    msgspec.json.Decoder(list[CloudTrailRecord]),
    msgspec.json.Decoder(CloudTrailRecord),
)
_LEAN = (msgspec.json.Decoder(_LeanLogFile), msgspec.json.Decoder(list[LeanRecord]), msgspec.json.Decoder(LeanRecord))
_RAW_FILE = msgspec.json.Decoder(_RawLogFile)
_RAW_ARRAY = msgspec.json.Decoder(list[msgspec.Raw])

GZIP_MAGIC = b"\x1f\x8b"
GZIP_WBITS = 31  # zlib's window bits for a gzip wrapper: header, deflate stream, CRC-32 and length checked
JSON_WHITESPACE = b" \t\r\n"
# Compressed bytes inflated per step into an ``InflateBuffer``: about 160 kB out at CloudTrail's
# ratio (10:1). ISA-L, like CPython's zlib, gathers a step's output in blocks of 32 kB, 64 kB,
# 256 kB, then 1 MB. A step past 352 kB out (64 kB in) takes a 1 MB block, which glibc maps and
# unmaps every step: its dynamic threshold only rises to the smaller piece handed back. That was
# seven thousand page faults per 28 MB object, half the time of inflating it; steps within the
# first three blocks reuse the same heap memory (up to 22:1).
INFLATE_STEP = 16 * 1024
# An ``InflateBuffer`` grown past this (by one outsized object) lets its memory go rather than keep it.
INFLATE_KEEP = 64 * 1024 * 1024


class LogDecodeError(ValueError):
    """A log object that is not gzip JSON in CloudTrail's shape."""


def gunzip(data: bytes) -> bytes:
    """Decompress a log object; a plain JSON body (already inflated) passes through.

    ISA-L's inflate does what ``gzip.decompress`` does (members in a row, zero
    padding between them, CRC-32 and length checked) in under half its time:
    decompression is the floor of reading a trail.
    """
    if not _is_gzip(data):
        return data
    pieces = list(_inflated_pieces(data, step=None))
    return pieces[0] if len(pieces) == 1 else b"".join(pieces)


class InflateBuffer:
    """Memory reused to inflate log objects one after another: ``gunzip`` without a new buffer per object.

    A busy account's log object inflates to tens of megabytes, and new
    memory that large is mapped by the kernel one page at a time, on first
    touch: about a third of the time of inflating it (20 objects of 28 MB:
    0.61 s, 0.40 s inflated in steps into one buffer). The view ``inflate``
    returns, and msgspec's ``Raw`` parts decoded from it, pin that memory;
    while anything still holds them, the next object gets fresh memory
    rather than overwriting theirs.
    """

    def __init__(self) -> None:
        self._memory = bytearray()

    def inflate(self, data: bytes) -> memoryview | bytes:
        """``data`` inflated (checked as ``gunzip`` checks it), as a view valid until the next call."""
        if not _is_gzip(data):
            return data
        memory = self._memory
        try:
            memory.append(0)  # a bytearray refuses to change size while any view of it is alive
            del memory[-1]
        except BufferError:
            memory = None
        if memory is None or len(memory) > INFLATE_KEEP:
            memory = self._memory = bytearray()
        size = 0
        for piece in _inflated_pieces(data, step=INFLATE_STEP):
            end = size + len(piece)
            memory[size:end] = piece  # grows the buffer where the piece runs past its end
            size = end
        return memoryview(memory)[:size]


def _is_gzip(data: bytes) -> bool:
    """True for a gzip body; False for plain JSON; ``LogDecodeError`` for anything else."""
    if data.startswith(GZIP_MAGIC):
        return True
    if data.lstrip()[:1] in (b"{", b"["):
        return False
    raise LogDecodeError(f"not a gzip file (starts with {data[:4]!r})")


def _inflated_pieces(data: bytes, step: int | None) -> Iterator[bytes]:
    """The inflated bytes of each gzip member in ``data``, ``step`` compressed bytes at a time (None: whole)."""
    view = memoryview(data)
    at = 0
    try:
        while at < len(data):
            inflater = isal_zlib.decompressobj(GZIP_WBITS)
            while not inflater.eof and at < len(data):
                chunk = view[at : at + step] if step else view[at:]
                yield inflater.decompress(chunk)
                at += len(chunk)
            if not inflater.eof:
                raise LogDecodeError("corrupt gzip data: truncated")
            at -= len(inflater.unused_data)
            if data[at : at + 1] == b"\x00":  # zero padding between members
                at = len(data) - len(data[at:].lstrip(b"\x00"))
            if at < len(data) and not data.startswith(GZIP_MAGIC, at):
                raise LogDecodeError(f"corrupt gzip data: {len(data) - at} bytes after the last member")
    except isal_zlib.error as exc:
        raise LogDecodeError(f"corrupt gzip data: {exc}") from exc


def decode_log(payload: bytes) -> tuple[list[CloudTrailRecord], int]:
    """The records of one log file, and how many records were skipped as malformed.

    A record that is not a JSON object is skipped and counted; a body that is
    not JSON, or not an object/array at the top, raises ``LogDecodeError``.
    """
    return _decode(payload, _FULL)


def decode_log_lean(payload: bytes | memoryview) -> tuple[list[LeanRecord], int]:
    """``decode_log`` with each record's nested parts left raw (``LeanRecord.whole`` decodes them)."""
    return _decode(payload, _LEAN)


def _decode(payload: bytes | memoryview, decoders: tuple[msgspec.json.Decoder, ...]) -> tuple[list, int]:
    file_decoder, array_decoder, record_decoder = decoders
    is_array = _starts_with_array(payload)
    try:
        if is_array:
            return array_decoder.decode(payload), 0
        return file_decoder.decode(payload).Records or [], 0
    except msgspec.ValidationError:
        pass  # some record is not an object: decode them one by one below
    except msgspec.DecodeError as exc:
        raise LogDecodeError(f"invalid JSON: {exc}") from exc
    try:
        raws = _RAW_ARRAY.decode(payload) if is_array else _RAW_FILE.decode(payload).Records or []
    except msgspec.ValidationError as exc:
        raise LogDecodeError(f"not a CloudTrail log file: {exc}") from exc
    records = []
    skipped = 0
    for raw in raws:
        try:
            records.append(record_decoder.decode(raw))
        except msgspec.ValidationError:
            skipped += 1
    return records, skipped


def _starts_with_array(payload: bytes | memoryview) -> bool:
    """True when the first JSON token is ``[`` (looked for without copying a large payload)."""
    head = bytes(payload[:64]).lstrip(JSON_WHITESPACE)
    if not head and len(payload) > 64:
        head = bytes(payload).lstrip(JSON_WHITESPACE)
    return head[:1] == b"["


def read_log(data: bytes, buffer: InflateBuffer | None = None) -> tuple[list[LeanRecord], int]:
    """Gunzip and decode one log object, lean (see ``decode_log_lean``); inflated into ``buffer`` if given.

    With a buffer, the records' raw parts are views of it: drop them before
    the buffer's next object (else that object takes fresh memory).
    """
    return decode_log_lean(gunzip(data) if buffer is None else buffer.inflate(data))


def parse_event_time(value: Any) -> datetime | None:
    """An ``eventTime`` as aware UTC, or None when it is missing or not a time.

    CloudTrail writes ``2024-06-03T15:23:22Z``; exported and normalised copies
    also carry ``2024-06-03 15:23:22.000000000`` (no zone: UTC).
    """
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is UTC:
        return parsed
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
