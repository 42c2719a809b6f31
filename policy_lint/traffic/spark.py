"""`policy-lint traffic --engine spark`: the classification and the aggregation on Apache Spark.

Spark runs the SAME SQL text as `--engine duckdb` (sqlplan.py: host -> service suffix match over
a catalog table, classify.py's outcome rules, groups per service/audience/day), so the report is
the Python path's and DuckDB's; tests/traffic/test_spark.py checks it on every sample format.

Input: every log format is read by the same streaming readers as the Python path
(sources.read_records: compressed or not, with the same skip counting), spooled to a TSV file in
a temporary directory (never held in memory), which Spark reads as text and splits in SQL (no CSV
quoting: a cell never holds a tab or a line break, spool() replaces them). Flow files and HAR are
refused (their block pages need the response fingerprints): use the Python engine.

The session: `--master` is passed through (default local[2]); the Spark UI is off, the driver
binds and advertises 127.0.0.1, no package is resolved (spark.jars.packages stays empty, the Ivy
directory is the temporary one), Spark's scratch space is the temporary directory, time zone UTC,
log4j at ERROR (stderr carries policy-lint's lines only). Not modelled: a cluster master whose
executors cannot read the driver's temporary directory (the spool is written there): run with a
local master, or on a machine whose temporary directory the executors share.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from policy_lint.traffic import sqlplan
from policy_lint.traffic.classify import Classifier
from policy_lint.traffic.compliance import ComplianceReport
from policy_lint.traffic.duck import spool
from policy_lint.traffic.sources import SkipCounter, SourceError, read_records, sniff

DEFAULT_MASTER = "local[2]"
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


def session(master: str, scratch: Path) -> Any:
    """A SparkSession kept on this machine's loopback, its scratch files under `scratch`."""
    from pyspark.sql import SparkSession

    scratch.mkdir(parents=True, exist_ok=True)
    log4j = scratch / "log4j2.properties"
    log4j.write_text(_LOG4J)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # the JVM binds nothing else
    java_opts = f"-Dlog4j2.configurationFile=file:{log4j} -Djava.io.tmpdir={scratch}"
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


class SparkEngine:
    """sqlplan.Engine on a SparkSession (temporary views, one namespace per run)."""

    dialect = sqlplan.SPARK

    def __init__(self, spark: Any) -> None:
        self.spark = spark
        self._cached: list[Any] = []

    def create(self, name: str, select: str, small: bool = False) -> None:
        df = self.spark.sql(select)
        if small:  # a row per distinct host: computed once, not per query that reads it
            df = df.cache()
            self._cached.append(df)
        df.createOrReplaceTempView(name)

    def load(self, name: str, columns: dict[str, str], rows: list[tuple[Any, ...]]) -> None:
        schema = ", ".join(f"{k} {_SPARK_TYPES[v]}" for k, v in columns.items())
        self.spark.createDataFrame(rows, schema).createOrReplaceTempView(name)

    def rows(self, select: str) -> Iterator[tuple[Any, ...]]:
        for row in self.spark.sql(select).toLocalIterator():
            yield tuple(row)

    def release(self) -> None:
        for df in self._cached:
            df.unpersist()
        for name in ("rec", "exact", "domains", "hostmap", "ipinfo", "clientinfo", "classified"):
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


def analyse(
    paths: Iterable[Path],
    classifier: Classifier,
    report: ComplianceReport,
    *,
    spark: Any = None,
    master: str = DEFAULT_MASTER,
) -> None:
    """Read, classify and aggregate `paths` into `report` (skips noted on it), on `spark` (a
    session the caller keeps) or on a new session of `master`, stopped at the end."""
    from policy_lint.traffic.logread import detect

    with tempfile.TemporaryDirectory(prefix="policy-lint-spark-") as tmp:
        spool_path = Path(tmp) / "records.tsv"
        with open(spool_path, "w", encoding="utf-8") as out:
            seq = 0
            for path in paths:
                if sniff(path) in ("har", "mitm") and detect(path) is None:
                    raise SourceError(
                        f"{path}: --engine spark reads logs; flow files and HAR need --engine python"
                    )
                skipped = SkipCounter()
                seq = spool(read_records(path, skipped), out, seq)
                for reason, n in skipped.reasons.items():
                    report.note_skipped(n, reason)
        own = spark is None
        if own:
            spark = session(master, Path(tmp) / "spark")
        engine = SparkEngine(spark)
        try:
            spark.read.text(str(spool_path)).createOrReplaceTempView("spooled")
            engine.create("rec", _rec_sql(engine.dialect))
            sqlplan.run(engine, classifier, report)
        finally:
            engine.release()
            spark.catalog.dropTempView("spooled")
            if own:
                spark.stop()
