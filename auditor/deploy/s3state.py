"""S3-backed storage for a function with no disk of its own: the state database file and the run directories.

A Lambda invocation works in a local directory that mirrors
``s3://BUCKET/PREFIX``: the SQLite state file is downloaded before the job
and written back after it with a conditional write (``If-Match`` on the
ETag it downloaded, ``If-None-Match: *`` for the first one), so a
concurrent writer is detected and nothing is overwritten blindly. Run
directories, evidence packs and outbox files are uploaded under the same
relative paths, and a run directory a later job needs (the quarterly
campaign reviews the latest run) is downloaded again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from botocore.exceptions import ClientError

from auditor.aws import error_code

STATE_NAME = "state.db"


class StateConflict(Exception):
    """The state file in S3 changed while this job ran; this job's state was not written."""


@dataclass
class S3Workspace:
    client: object
    bucket: str
    prefix: str
    root: Path
    etag: str | None = field(default=None, repr=False)

    def key(self, path: Path) -> str:
        return self.prefix + Path(path).resolve().relative_to(self.root.resolve()).as_posix()

    def uri(self, path: Path) -> str:
        return f"s3://{self.bucket}/{self.key(path)}"

    @property
    def state_path(self) -> Path:
        return self.root / STATE_NAME

    def pull_state(self) -> Path:
        """Download the state file (if there is one yet) and remember its ETag."""
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self.key(self.state_path))
        except ClientError as exc:
            if error_code(exc) not in ("NoSuchKey", "404"):
                raise
            self.etag = None
            return self.state_path
        self.state_path.write_bytes(answer["Body"].read())
        self.etag = answer["ETag"]
        return self.state_path

    def push_state(self) -> str:
        """Write the state file back only if nobody replaced it meanwhile; returns the new ETag."""
        condition = {"IfMatch": self.etag} if self.etag else {"IfNoneMatch": "*"}
        try:
            answer = self.client.put_object(
                Bucket=self.bucket, Key=self.key(self.state_path), Body=self.state_path.read_bytes(), **condition
            )
        except ClientError as exc:
            if error_code(exc) in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise StateConflict(
                    f"{self.uri(self.state_path)} was replaced while this job ran (another invocation?); "
                    "this job's state was not written over it"
                ) from exc
            raise
        self.etag = answer["ETag"]
        return self.etag

    def publish(self, directory: Path) -> str:
        """Upload a directory tree; returns its s3:// location."""
        for path in sorted(Path(directory).rglob("*")):
            if path.is_file():
                self.client.upload_file(str(path), self.bucket, self.key(path))
        return self.uri(directory)

    def pull(self, directory: Path) -> bool:
        """Download a directory tree mirrored earlier (e.g. the latest run); False when S3 has nothing of it."""
        prefix = self.key(directory).rstrip("/") + "/"
        found = False
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                target = self.root / item["Key"][len(self.prefix) :]
                target.parent.mkdir(parents=True, exist_ok=True)
                self.client.download_file(self.bucket, item["Key"], str(target))
                found = True
        return found

    def push_changed(self, since: float, skip: tuple[Path, ...] = ()) -> list[str]:
        """Upload every file written since ``since`` (a time.time() value), except the state file and ``skip``."""
        skipped = {p.resolve() for p in (self.state_path, *skip)}
        uploaded = []
        for path in sorted(self.root.rglob("*")):
            if not path.is_file() or path.resolve() in skipped or path.stat().st_mtime < since:
                continue
            if any(parent in skipped for parent in path.resolve().parents):
                continue
            self.client.upload_file(str(path), self.bucket, self.key(path))
            uploaded.append(self.key(path))
        return uploaded
