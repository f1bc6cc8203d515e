"""Athena: queries really run, over the bucket's objects; ``GetTableMetadata``; paged ``GetQueryResults``.

moto records a query and answers it with canned rows (none by default),
keeps no tables and returns every row in one page. Here, as Athena does
(Athena API reference; user guide, "Partition projection"):

- ``CREATE EXTERNAL TABLE`` (Hive DDL) registers the table, its columns,
  partition keys and TBLPROPERTIES; a second one of the same name fails
  with ``AlreadyExistsException`` unless it says ``IF NOT EXISTS``.
  ``GetTableMetadata`` describes it (``MetadataException`` when missing).
- A ``SELECT`` (or ``WITH``) runs for real: the tables it names are read
  from S3 through their projection (``storage.location.template`` with
  ``injected``, ``enum`` and ``date`` partition keys, values outside an
  enum or a date range not projected), each JSON record mapped onto the
  columns as the Hive JSON SerDe maps it (keys matched without case, a
  nested object in a STRING column kept as its JSON text), with the
  ``"$path"`` column. The query text is transpiled from Athena's (Trino)
  dialect to DuckDB's by sqlglot and run by DuckDB. ``DataScannedInBytes``
  is the size of the objects in the partitions the query's predicates on
  partition keys admit. A query that does not parse or run, or reaches an
  object that is not gzip JSON, ends ``FAILED`` with the error as its
  ``StateChangeReason`` (``HIVE_CURSOR_ERROR`` naming the object).
- ``GetQueryResults`` answers at most ``MaxResults`` (1,000) rows a page
  with a ``NextToken``; a SELECT's first row repeats the column names, and
  every value is a ``VarCharValue`` string (none for NULL).

State lives on moto's Athena backends, so resetting moto clears it too.
Used by the CloudTrail collector's Athena engine.
"""

from __future__ import annotations

import gzip
import json
import re
import tempfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import sqlglot
from moto.athena.exceptions import MetadataException
from moto.athena.models import AthenaBackend, QueryResults
from moto.athena.responses import AthenaResponse
from moto.s3.models import s3_backends
from sqlglot import exp

from auditor.sandbox.moto_setup import now
from auditor.sandbox.patching import Patches

PAGE_LIMIT = 1000
Object = tuple[str, dict[str, str], bytes]  # s3 URI, partition values, body
PATH = "$path"
_DUCKDB_TYPES = {
    "VARCHAR": "varchar",
    "BIGINT": "bigint",
    "INTEGER": "integer",
    "HUGEINT": "bigint",
    "BOOLEAN": "boolean",
    "DOUBLE": "double",
    "TIMESTAMP": "timestamp",
    "DATE": "date",
}


@dataclass
class Table:
    """A table as the DDL declared it."""

    database: str
    name: str
    columns: list[tuple[str, exp.DataType]]
    partitions: list[str]
    location: str
    parameters: dict[str, str]
    created: datetime = field(default_factory=now)


@dataclass
class Outcome:
    """What really happened to an execution (moto keeps only the text)."""

    error: str | None = None
    scanned: int = 0


def _tables(backend: AthenaBackend) -> dict[tuple[str, str], Table]:
    return backend.__dict__.setdefault("fill_tables", {})


def _outcomes(backend: AthenaBackend) -> dict[str, Outcome]:
    return backend.__dict__.setdefault("fill_outcomes", {})


# --- DDL


def _create_table(backend: AthenaBackend, create: exp.Create, database: str) -> None:
    target = create.this.this if isinstance(create.this, exp.Schema) else create.this
    db = target.db or database
    key = (db.lower(), target.name.lower())
    if key in _tables(backend):
        if create.args.get("exists"):
            return
        raise ValueError(f"AlreadyExistsException: Table {db}.{target.name} already exists")
    columns = [(c.name.lower(), c.args["kind"]) for c in create.this.expressions if isinstance(c, exp.ColumnDef)]
    partitioned = create.find(exp.PartitionedByProperty)
    partitions = []
    if partitioned is not None:
        for column in partitioned.this.expressions:
            partitions.append(column.name.lower())
            columns.append((column.name.lower(), column.args["kind"]))
    location = create.find(exp.LocationProperty)
    parameters = {p.name: p.text("value") for p in create.find_all(exp.Property) if p.name and "." in p.name}
    _tables(backend)[key] = Table(
        database=db.lower(),
        name=target.name.lower(),
        columns=columns,
        partitions=partitions,
        location=location.this.name if location is not None else "",
        parameters=parameters,
    )


def _metadata(table: Table) -> dict[str, Any]:
    partitions = set(table.partitions)

    def column(name: str, kind: exp.DataType) -> dict[str, str]:
        return {"Name": name, "Type": kind.sql("hive").lower()}

    return {
        "Name": table.name,
        "CreateTime": table.created.timestamp(),
        "TableType": "EXTERNAL_TABLE",
        "Columns": [column(n, k) for n, k in table.columns if n not in partitions],
        "PartitionKeys": [column(n, k) for n, k in table.columns if n in partitions],
        "Parameters": {"EXTERNAL": "TRUE", "location": table.location, **table.parameters},
    }


# --- reading a table through its projection


def _partition_pattern(table: Table) -> re.Pattern[str]:
    template = table.parameters.get("storage.location.template") or table.location.rstrip("/")
    pattern = ""
    for piece in re.split(r"(\$\{[^}]+\})", template):
        name = piece[2:-1] if piece.startswith("${") else None
        if name is None:
            pattern += re.escape(piece)
        elif table.parameters.get(f"projection.{name}.type") == "date":
            pattern += f"(?P<{name}>\\d{{4}}/\\d{{2}}/\\d{{2}})"
        else:
            pattern += f"(?P<{name}>[^/]+)"
    return re.compile(pattern + r"/[^/]+$")


def _projected(table: Table, values: dict[str, str]) -> bool:
    """Whether projection yields this partition: enum values listed, dates inside the range."""
    for name, value in values.items():
        kind = table.parameters.get(f"projection.{name}.type")
        if kind == "enum" and value not in table.parameters.get(f"projection.{name}.values", "").split(","):
            return False
        if kind == "date":
            low, _, high = table.parameters.get(f"projection.{name}.range", ",").partition(",")
            today = now().strftime("%Y/%m/%d")
            if not (low <= value <= (today if high.upper().startswith("NOW") else high)):
                return False
    return True


def _objects(backend: AthenaBackend, table: Table) -> list[Object]:
    """(s3 URI, partition values, body) of every object the projection reaches."""
    bucket_name, _, prefix = table.location.removeprefix("s3://").partition("/")
    s3 = s3_backends[backend.account_id][backend.partition]
    bucket = s3.get_bucket(bucket_name)
    pattern = _partition_pattern(table)
    found = []
    for key in sorted(bucket.keys):
        if not key.startswith(prefix):
            continue
        uri = f"s3://{bucket_name}/{key}"
        match = pattern.fullmatch(uri)
        if match and _projected(table, match.groupdict()):
            found.append((uri, match.groupdict(), bucket.keys[key].value))
    return found


Shape = tuple  # ("struct", {field: Shape}) | ("array", Shape) | ("map",) | ("scalar",)


def _shape(kind: exp.DataType) -> Shape:
    """A column type as plain tuples, compiled once per table (sqlglot's nodes are slow to ask per value)."""
    if kind.is_type(exp.DataType.Type.STRUCT):
        return ("struct", {f.name.lower(): _shape(f.args["kind"]) for f in kind.expressions})
    if kind.is_type(exp.DataType.Type.ARRAY):
        return ("array", _shape(kind.expressions[0]))
    if kind.is_type(exp.DataType.Type.MAP):
        return ("map",)
    return ("scalar",)


def _serde(value: Any, shape: Shape) -> Any:
    """A JSON value as the Hive JSON SerDe maps it onto a column of ``shape``."""
    if value is None:
        return None
    kind = shape[0]
    if kind == "struct":
        if not isinstance(value, dict):
            return None
        lowered = {k.lower(): v for k, v in value.items()}
        return {name: _serde(lowered.get(name), inner) for name, inner in shape[1].items()}
    if kind == "array":
        return [_serde(v, shape[1]) for v in value] if isinstance(value, list) else None
    if kind == "map":
        return {str(k): _scalar(v) for k, v in value.items()} if isinstance(value, dict) else None
    return _scalar(value)


def _scalar(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _admitted(connection, query: exp.Expression, table: Table, objects: list[Object]) -> list[Object]:
    """The objects in the partitions the query's predicates on partition keys admit (partition pruning)."""
    partitions = set(table.partitions)
    columns = [*table.partitions, PATH]
    name = exp.table_(table.name, db=table.database, quoted=True).sql("duckdb")
    connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{table.database}"')
    connection.execute(f"CREATE TABLE {name} ({', '.join(f'{chr(34)}{c}{chr(34)} VARCHAR' for c in columns)})")
    rows = [[values.get(c) for c in table.partitions] + [uri] for uri, values, _ in objects]
    if rows:
        connection.executemany(f"INSERT INTO {name} VALUES ({', '.join('?' for _ in columns)})", rows)
    admitted: set[str] = set()
    for reference in query.find_all(exp.Table):
        if reference.name.lower() != table.name:
            continue
        select = reference.find_ancestor(exp.Select)
        where = select.args.get("where") if select is not None else None
        conjuncts = list(where.this.flatten()) if where is not None and isinstance(where.this, exp.And) else []
        if where is not None and not conjuncts:
            conjuncts = [where.this]
        pruning = [c for c in conjuncts if {col.name.lower() for col in c.find_all(exp.Column)} <= partitions]
        sql = exp.select(exp.column(PATH, quoted=True)).distinct().from_(name)
        if pruning:
            sql = sql.where(*pruning)
        admitted |= {row[0] for row in connection.execute(sql.sql("duckdb")).fetchall()}
    connection.execute(f"DROP TABLE {name}")
    return [o for o in objects if o[0] in admitted]


def _load(connection: duckdb.DuckDBPyConnection, table: Table, objects: list[Object], work: Path) -> None:
    """Create the table in DuckDB from the records of ``objects``, as the SerDe maps them."""
    partitions = set(table.partitions)
    shapes = [(name, _shape(kind)) for name, kind in table.columns if name not in partitions]
    lines = work / f"{table.database}.{table.name}.json"
    with lines.open("w", encoding="utf-8") as out:
        for uri, values, body in objects:
            try:
                data = json.loads(gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body)
            except (OSError, EOFError, zlib.error, ValueError) as exc:  # Athena fails the whole query
                raise ValueError(f"HIVE_CURSOR_ERROR: {exc} ({uri})") from exc
            for record in data.get("Records", []) if isinstance(data, dict) else data:
                lowered = {k.lower(): v for k, v in record.items()} if isinstance(record, dict) else {}
                row = {name: _serde(lowered.get(name), shape) for name, shape in shapes}
                row.update(values)
                row[PATH] = uri
                out.write(json.dumps(row) + "\n")
    types = {name: kind.sql("duckdb") for name, kind in table.columns}
    types[PATH] = "VARCHAR"
    columns = "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in types.items()) + "}"
    connection.execute(
        f'CREATE TABLE "{table.database}"."{table.name}" AS SELECT * FROM read_json('
        f"'{lines}', format = 'newline_delimited', columns = {columns})"
    )


def _cell(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"VarCharValue": "true" if value else "false"}
    return {"VarCharValue": str(value)}


def _select(backend: AthenaBackend, text: str, database: str) -> tuple[QueryResults, int]:
    tree = sqlglot.parse_one(text, read="athena")
    wanted = []
    for reference in tree.find_all(exp.Table):
        table = _tables(backend).get(((reference.db or database).lower(), reference.name.lower()))
        if table is not None and table not in wanted:
            wanted.append(table)
    connection = duckdb.connect()
    scanned = 0
    try:
        with tempfile.TemporaryDirectory() as work:
            for table in wanted:
                objects = _admitted(connection, tree, table, _objects(backend, table))
                scanned += sum(len(body) for _, _, body in objects)
                _load(connection, table, objects, Path(work))
        if database:
            connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{database}"')
            connection.execute(f'USE "{database}"')
        cursor = connection.execute(sqlglot.transpile(text, read="athena", write="duckdb")[0])
        names = [d[0] for d in cursor.description]
        kinds = [_DUCKDB_TYPES.get(str(d[1]).upper(), "varchar") for d in cursor.description]
        rows = cursor.fetchall()
    finally:
        connection.close()
    header = {"Data": [{"VarCharValue": name} for name in names]}
    info = [
        {
            "CatalogName": "hive",
            "SchemaName": "",
            "TableName": "",
            "Name": n,
            "Label": n,
            "Type": k,
            "Precision": 0,
            "Scale": 0,
            "Nullable": "UNKNOWN",
            "CaseSensitive": k == "varchar",
        }
        for n, k in zip(names, kinds, strict=True)
    ]
    return QueryResults([header, *({"Data": [_cell(v) for v in row]} for row in rows)], info), scanned


# --- the patched operations


def _start_query_execution(original):
    def start(self: AthenaBackend, query: str, context: Any, config: Any, workgroup: str, execution_parameters):
        exec_id = original(self, query, context, config, workgroup, execution_parameters)
        database = (context or {}).get("Database") or "default"
        outcome = _outcomes(self).setdefault(exec_id, Outcome())
        try:
            tree = sqlglot.parse_one(query, read="athena")
            if isinstance(tree, exp.Create) and tree.kind == "TABLE":
                _create_table(self, tree, database.lower())
                self.query_results[exec_id] = QueryResults([], [])
            elif isinstance(tree, exp.Query):
                self.query_results[exec_id], outcome.scanned = _select(self, query, database.lower())
        except (sqlglot.errors.SqlglotError, duckdb.Error, ValueError, KeyError) as exc:
            outcome.error = str(exc).splitlines()[0]
        return exec_id

    return start


def _get_query_execution(original):
    def describe(self: AthenaResponse) -> str:
        answer = json.loads(original(self))
        execution = answer["QueryExecution"]
        outcome = _outcomes(self.athena_backend).get(execution["QueryExecutionId"])
        if outcome is not None:
            execution["Statistics"]["DataScannedInBytes"] = outcome.scanned
            if outcome.error and execution["Status"]["State"] == "SUCCEEDED":
                execution["Status"]["State"] = "FAILED"
                execution["Status"]["StateChangeReason"] = outcome.error
        return json.dumps(answer)

    return describe


def _get_query_results(self: AthenaResponse) -> str:
    exec_id = self._get_param("QueryExecutionId")
    outcome = _outcomes(self.athena_backend).get(exec_id)
    if outcome is not None and outcome.error:
        return self.error("Query did not finish successfully. Final query state: FAILED", 400)
    result = self.athena_backend.get_query_results(exec_id).to_dict()
    limit = min(int(self._get_param("MaxResults") or PAGE_LIMIT), PAGE_LIMIT)
    offset = int(self._get_param("NextToken") or 0)
    rows = result["ResultSet"]["Rows"]
    result["ResultSet"]["Rows"] = rows[offset : offset + limit]
    if offset + limit < len(rows):
        result["NextToken"] = str(offset + limit)
    return json.dumps(result)


def _get_table_metadata(self: AthenaResponse) -> str:
    database, name = self._get_param("DatabaseName"), self._get_param("TableName")
    table = _tables(self.athena_backend).get((database.lower(), name.lower()))
    if table is None:
        raise MetadataException(
            f"Table {name} not found in database {database} (Service: AmazonDataCatalog; "
            "Error Code: EntityNotFoundException)"
        )
    return json.dumps({"TableMetadata": _metadata(table)})


def install(patches: Patches) -> None:
    patches.set(AthenaBackend, "start_query_execution", _start_query_execution(AthenaBackend.start_query_execution))
    patches.set(AthenaResponse, "get_query_execution", _get_query_execution(AthenaResponse.get_query_execution))
    patches.set(AthenaResponse, "get_query_results", _get_query_results)
    patches.set(AthenaResponse, "get_table_metadata", _get_table_metadata)
