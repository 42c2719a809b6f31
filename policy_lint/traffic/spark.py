"""`policy-lint traffic --engine spark`: the classification and the aggregation on Apache Spark.

Spark runs the SAME plan as `--engine duckdb` (sqlgroups.run over sqlplan's parts: host -> service
suffix match over a catalog table, records grouped by what their classification reads and
classified once per group by classify.py's outcome rules, groups per service/audience/day), so
the report is the Python path's and DuckDB's;
tests/traffic/test_spark.py checks it on every sample format.

Input: plain squid native access.logs and plain Zscaler NSS default-feed web logs (uncompressed,
no BOM, valid UTF-8, no line past MAX_LINE: then Spark's text reader, split at \\n only, gives
logio's lines) are parsed by Spark itself, with DuckDB's split: the lines whose parse is provably
the Python reader's are parsed in SQL (squid: one full-match regex, duck.NATIVE_LINE_RE, over the
line with its space runs collapsed, fields cut by split/substring_index; Zscaler:
spark_zscaler.py), written once to Parquet in a temporary directory, and the lines left go to
sources.squid_line / weblogs.zscaler in Python, same records, same skip reasons. Every other
input is read by the same streaming readers as the Python path (sources.read_records: every
format, compressed or not, with the same skip counting), spooled to a TSV file in that directory
(never held in memory) that Spark reads as text and splits in SQL (no CSV quoting: a cell never
holds a tab or a line break, spool() replaces them). Flow files and HAR are refused (their block
pages need the response fingerprints): use the Python engine.

The session: `--master` is passed through (default local[2]); the Spark UI is off, the driver
binds and advertises 127.0.0.1, no package is resolved (spark.jars.packages stays empty, the Ivy
directory is the temporary one), Spark's scratch space is the temporary directory, time zone UTC,
Spark's log level ERROR once the session is up (the JVM's incubator-module note and pyspark's
level banner still come first on stderr); a local master's JVM runs the serial collector, with
C1 only for inputs under LONG_RUN_BYTES (less CPU for a run of seconds), with C2 past it. Each
plain log is cut into a multiple of the cores' number of splits (split_bytes), and the small
tables of Python rows (catalog, addresses, clients, users) are broadcast to the joins that read
them (BROADCAST_ROWS). No user name is staged for a run that reads none
(sqlgroups.reads_user_names). Not modelled: a cluster master whose executors cannot read the
driver's temporary directory (the spool and the Parquet files are written there): run with a
local master, or on a machine whose temporary directory the executors share.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from policy_lint.traffic import duck_zscaler, spark_zscaler, sqlgroups, sqlplan
from policy_lint.traffic.byuser import ByUser
from policy_lint.traffic.classify import Classifier
from policy_lint.traffic.compliance import ComplianceReport
from policy_lint.traffic.duck import NATIVE_LINE_RE, native_squid_ok, spool, spool_squid_lines
from policy_lint.traffic.logio import MAX_LINE
from policy_lint.traffic.sources import SkipCounter, SourceError, read_records, sniff

DEFAULT_MASTER = "local[2]"
# A local master's JVM: a short run (small inputs) gets C1 only: the JIT's second tier (C2) costs
# more CPU than it gives back in that time. A long run (LONG_RUN_BYTES of input or more) gets C2:
# C2's code parses lines faster. Measured, JVM CPU seconds of a whole run, C1 -> C2: 1M squid
# records (110 MB) 30 -> 38, 1M Zscaler (250 MB) 39 -> 42, 5M squid (551 MB) 73 -> 62.
# Both get the serial collector: the parallel one let the process tree grow with the input
# (squid, 5M/10M/20M records: 1.08/1.18-1.50/1.64 GB; serial 0.96/1.02-1.04/1.08 GB, 1-3% more
# CPU; capping malloc's arenas changed nothing).
LOCAL_JVM_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
LONG_RUN_JVM_OPTIONS = "-XX:+UseSerialGC"
LONG_RUN_BYTES = 320 << 20
# a table of Python rows up to this size is sent whole to every task that joins it (a broadcast
# hash join): Spark knows no size of such a table and would otherwise shuffle and sort every
# record by its join key (a sort-merge join of millions of rows against a few thousand)
BROADCAST_ROWS = 1_000_000
_SPARK_TYPES = {
    "VARCHAR": "STRING",
    "INTEGER": "INT",
    "BIGINT": "BIGINT",
    "DOUBLE": "DOUBLE",
    "BOOLEAN": "BOOLEAN",
}
_LOG4J = """rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = spark: %p %c{1}: %m%n
"""


def session(master: str, scratch: Path, input_bytes: int = 0) -> Any:
    """A SparkSession kept on this machine's loopback, its scratch files under `scratch`, its
    JVM tuned for `input_bytes` of logs."""
    from pyspark.sql import SparkSession

    scratch.mkdir(parents=True, exist_ok=True)
    log4j = scratch / "log4j2.properties"
    log4j.write_text(_LOG4J)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # the JVM binds nothing else
    java_opts = f"-Dlog4j2.configurationFile=file:{log4j} -Djava.io.tmpdir={scratch}"
    java_opts += jit_options(master, input_bytes)
    builder = (
        SparkSession.builder.master(master)
        .appName("policy-lint traffic")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.jars.packages", "")
        .config("spark.jars.ivy", str(scratch / "ivy"))
        .config("spark.local.dir", str(scratch / "local"))
        .config("spark.sql.warehouse.dir", str(scratch / "warehouse"))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.extraJavaOptions", java_opts)
        .config("spark.executor.extraJavaOptions", java_opts)
        # a log run is a handful of shuffles over few distinct keys: Spark's 200 partitions
        # would be 200 tasks of nothing each
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.sql.adaptive.enabled", "true")
    )
    if master.startswith("local"):
        builder = builder.config("spark.driver.memory", "768m")
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def jit_options(master: str, input_bytes: int) -> str:
    """The JVM options (after a space) for a run of `input_bytes` of logs on `master`: none for a
    cluster (its own settings rule)."""
    if not master.startswith("local"):
        return ""
    return " " + (LONG_RUN_JVM_OPTIONS if input_bytes >= LONG_RUN_BYTES else LOCAL_JVM_OPTIONS)


class SparkEngine:
    """sqlplan.Engine on a SparkSession (temporary views, one namespace per run)."""

    dialect = sqlplan.SPARK

    def __init__(self, spark: Any, scratch: Path, broadcast_rows: int = BROADCAST_ROWS) -> None:
        self.spark = spark
        self.scratch = scratch
        self.broadcast_rows = broadcast_rows
        self._cached: list[Any] = []

    def create(self, name: str, select: str, small: bool = False) -> None:
        df = self.spark.sql(select)
        if small:  # a row per distinct host: computed once, not per query that reads it
            df = df.cache()
            self._cached.append(df)
        else:  # a row per record: computed once, kept on disk (Parquet), memory stays flat
            df.write.parquet(str(self.scratch / name))
            df = self.spark.read.parquet(str(self.scratch / name))
        df.createOrReplaceTempView(name)

    def load(self, name: str, columns: dict[str, str], rows: list[tuple[Any, ...]]) -> None:
        schema = ", ".join(f"{k} {_SPARK_TYPES[v]}" for k, v in columns.items())
        from pyspark.sql.functions import broadcast

        df = self.spark.createDataFrame(rows, schema)
        if len(rows) <= self.broadcast_rows:
            df = broadcast(df)
        df.createOrReplaceTempView(name)

    def rows(self, select: str) -> Iterator[tuple[Any, ...]]:
        for row in self.spark.sql(select).toLocalIterator():
            yield tuple(row)

    def release(self) -> None:
        for df in self._cached:
            df.unpersist()
        for name in (
            "spooled",
            "rec",
            "exact",
            "domains",
            "hostmap",
            "ipinfo",
            "clientinfo",
            "usermap",
            "classified",
        ):
            self.spark.catalog.dropTempView(name)


def _rec_sql(d: sqlplan.Dialect) -> str:
    """The spooled TSV (view `spooled`, one `value` per line) as table `rec`."""
    cells = []
    for i, (name, kind) in enumerate(sqlplan.RECORD_COLUMNS.items()):
        cell = f"f[{i}]"
        if kind == "BOOLEAN":
            cells.append(f"{cell} = 'true' AS {name}")
        elif kind == "VARCHAR":
            cells.append(f"nullif({cell}, '') AS {name}")
        else:
            cells.append(f"CAST(nullif({cell}, '') AS {_SPARK_TYPES[kind]}) AS {name}")
    return f"SELECT {', '.join(cells)} FROM (SELECT split(value, {d.lit(chr(9))}, -1) AS f FROM spooled) s"


# Each input file gets a block of sequence numbers: file i's records are numbered from i << 48
# (Spark numbers a file's lines with monotonically_increasing_id: partition << 33 | row, in file
# order), so the records keep the input's order across files and readers.
_BLOCK = 1 << 48
_SCAN_CHUNK = 1 << 22
_SPLIT = 128 << 20  # Spark's default largest split of a file (spark.sql.files.maxPartitionBytes)


def plain_utf8(path: Path) -> bool:
    """Whether every line of `path` is valid UTF-8 and shorter than MAX_LINE: then Spark's text
    reader (split at \\n only) gives exactly the lines logio.lines gives (which replaces invalid
    bytes and skips over-long lines: cases left to the Python readers)."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    run = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_SCAN_CHUNK):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                return False
            parts = chunk.split(b"\n")
            if len(parts) == 1:
                run += len(chunk)
            else:
                run += len(parts[0])
                if max(run, *(len(x) for x in parts[1:-1])) > MAX_LINE - 8:
                    return False
                run = len(parts[-1])
            if run > MAX_LINE - 8:
                return False
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _native_squid_sql(d: sqlplan.Dialect, view: str, base: int, users: bool = True) -> str:
    """duck.native_squid's parse in Spark SQL: one full-match regex over the line with its space
    runs collapsed (NATIVE_LINE_RE; anchored with \\z: java.util.regex's $ also matches before a
    final line terminator), the fields cut by split / substring_index (no array per cut); the
    record columns plus `ok` (parsed here) and `raw` (a line left to sources.squid_line). The
    user (a second regex over the line) only with `users`: NULL otherwise."""
    full = d.lit("^(?:" + NATIVE_LINE_RE + ")" + _END)
    # the regex admitted host[:port] (no "://") or scheme://host[:port][/?#...]: the host is what
    # comes after "://", up to the first of / ? # and then of :
    rest = "CASE WHEN instr(url, '://') = 0 THEN url ELSE substring(url, instr(url, '://') + 3) END"
    host = f"lower(substring_index(substring_index(substring_index(substring_index({rest}, '/', 1), '?', 1), '#', 1), ':', 1))"
    user = f"nullif(nullif(regexp_extract(c, {d.lit(_USER_RE)}, 1), ''), '-')" if users else "NULL"
    return f"""
        SELECT {base} + id AS seq, good AS ok, CASE WHEN good THEN CAST(f[0] AS DOUBLE) END AS ts,
               CASE WHEN good THEN {host} END AS host, CASE WHEN good THEN f[2] END AS client,
               CASE WHEN good AND NOT failed THEN nullif(code, 0) END AS status,
               CASE WHEN good THEN tag END AS tag,
               CASE WHEN good AND failed THEN 'squid ' || tag || '/' || CAST(code AS STRING) END AS error,
               CAST(NULL AS STRING) AS server_ip, true AS via_upstream, CAST(NULL AS STRING) AS verdict,
               CAST(NULL AS STRING) AS reason,
               CAST(CASE WHEN good THEN {user} END AS STRING) AS user_name,
               CAST(NULL AS STRING) AS group_name, CASE WHEN NOT good THEN line END AS raw
        FROM (
          SELECT *, m AND NOT (method = 'CONNECT' AND instr(url, '://') > 0) AS good,
                 left(tag, 8) = 'TAG_NONE' OR code = 0 OR (code >= 500 AND instr(tag, 'DENIED') = 0) AS failed
          FROM (
            SELECT id, line, c, m, f[5] AS method, f[6] AS url, substring_index(f[3], '/', 1) AS tag,
                   CASE WHEN m THEN CAST(substring_index(f[3], '/', -1) AS INT) END AS code, f
            FROM (SELECT id, line, c, m, CASE WHEN m THEN split(c, ' ') END AS f
                  FROM (SELECT id, value AS line, c, c RLIKE {full} AS m
                        FROM (SELECT monotonically_increasing_id() AS id, value,
                                     regexp_replace(trim(value), ' +', ' ') AS c FROM {view}) a) b) c
          ) e
        ) g
    """


# The user: sources.squid_line's (?:\s+(\S+))? after the seven fields (a run of spaces and tabs,
# then non-space characters; "-" is none). The regex admitted printable ASCII and tabs only there.
_USER_RE = r"^(?:[!-~]+ ){7}[\t ]*([!-~]+)"
_END = r"\z"  # java.util.regex's end of input ($ also matches before a final line terminator)


def _native(spark: Any, sql: str, path: Path, staged: Path) -> Iterator[tuple[int, str]]:
    """Parse `path` by `sql` (over view `lines`) into Parquet at `staged` (every record column,
    `ok` and `raw`, a row per line); yields the raw lines, (seq, line) in file order."""
    key = "spark.sql.files.maxPartitionBytes"
    before = spark.conf.get(key, None)
    spark.conf.set(key, str(split_bytes(path.stat().st_size, _cores(spark))))
    try:
        spark.read.option("lineSep", "\n").text(str(path)).createOrReplaceTempView("lines")
        spark.sql(sql).write.parquet(str(staged))
    finally:
        if before is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, before)
    spark.catalog.dropTempView("lines")
    # few rows, as a rule: one task sorts them (spilling if a file is mostly left to Python)
    left = spark.read.parquet(str(staged)).where("raw IS NOT NULL").select("seq", "raw")
    for row in left.coalesce(1).sortWithinPartitions("seq").toLocalIterator():
        yield row[0], row[1]


def _cores(spark: Any) -> int:
    return max(1, int(spark.sparkContext.defaultParallelism))


def split_bytes(size: int, cores: int, most: int = _SPLIT) -> int:
    """The largest split of a `size`-byte file when it is cut into a multiple of `cores` splits
    of at most `most` bytes: every core parses to the end (Spark's own 128 MiB cut gives a
    551 MB log 5 splits: the last one parsed by one core while the other waits)."""
    waves = max(1, -(-size // (cores * most)))
    return max(4 << 20, -(-size // (cores * waves)))  # a small file: one split, as Spark cuts it


def _read_native(
    spark: Any, path: Path, base: int, scratch: Path, out: Any, skipped: SkipCounter, users: bool
) -> Path | None:
    """A plain squid native access.log or Zscaler NSS web log parsed by Spark itself: its parsed
    rows as a Parquet directory (returned; user names only with `users`), the lines left to the
    Python reader spooled to `out`. None: not such a log (or not plain UTF-8 lines): the caller
    reads it the Python way."""
    staged = scratch / f"native-{base >> 48}"
    if native_squid_ok(path):
        if not plain_utf8(path):
            return None
        spool_squid_lines(
            _native(spark, _native_squid_sql(sqlplan.SPARK, "lines", base, users), path, staged), out, skipped
        )
        return staged
    if duck_zscaler.eligible(path):
        if not plain_utf8(path):
            return None
        lines = _native(spark, spark_zscaler.parse_sql("lines", base, users), path, staged)
        spark_zscaler.python_lines(lines, spool, out, skipped)
        return staged
    return None


def analyse(
    paths: Iterable[Path],
    classifier: Classifier,
    report: ComplianceReport,
    *,
    spark: Any = None,
    master: str = DEFAULT_MASTER,
    by_user: ByUser | None = None,
    broadcast_rows: int = BROADCAST_ROWS,
) -> None:
    """Read, classify and aggregate `paths` into `report` (skips noted on it), and per user into
    `by_user` when given, on `spark` (a session the caller keeps) or on a new session of
    `master`, stopped at the end; tables of Python rows up to `broadcast_rows` rows are
    broadcast to their joins."""
    from policy_lint.traffic.logread import detect

    paths = list(paths)
    users = sqlgroups.reads_user_names(report, by_user)  # else no user name is staged
    with tempfile.TemporaryDirectory(prefix="policy-lint-spark-") as tmp:
        own = spark is None
        if own:
            spark = session(master, Path(tmp) / "spark", sum(path.stat().st_size for path in paths))
        engine = SparkEngine(spark, Path(tmp), broadcast_rows)
        spool_path = Path(tmp) / "records.tsv"
        native: list[Path] = []
        try:
            with open(spool_path, "w", encoding="utf-8") as out:
                for i, path in enumerate(paths):
                    if sniff(path) in ("har", "mitm") and detect(path) is None:
                        raise SourceError(
                            f"{path}: --engine spark reads logs; flow files and HAR need --engine python"
                        )
                    skipped = SkipCounter()
                    staged = _read_native(spark, path, i * _BLOCK, Path(tmp), out, skipped, users)
                    if staged is None:
                        spool(
                            read_records(path, skipped, keep_addressed=classifier.by_address), out, i * _BLOCK
                        )
                    else:
                        native.append(staged)
                    for reason, n in skipped.reasons.items():
                        report.note_skipped(n, reason)
            _rec_view(spark, engine.dialect, spool_path, native)
            sqlgroups.run(engine, classifier, report, by_user)
        finally:
            engine.release()
            if own:
                spark.stop()


def _rec_view(spark: Any, d: sqlplan.Dialect, spool_path: Path, native: list[Path]) -> None:
    """View `rec`: the rows parsed natively (Parquet, read where `ok`) and the spooled records
    (TSV), in one union (sqlgroups.run groups them before it classifies)."""
    columns = list(sqlplan.RECORD_COLUMNS)
    parts = [spark.read.parquet(str(staged)).where("ok").select(*columns) for staged in native]
    if spool_path.stat().st_size or not parts:
        spark.read.text(str(spool_path)).createOrReplaceTempView("spooled")
        parts.append(spark.sql(_rec_sql(d)))
    rec = parts[0]
    for part in parts[1:]:
        rec = rec.unionByName(part)
    rec.createOrReplaceTempView("rec")
