"""The one place that knows SQLite from PostgreSQL: INSERT ... ON CONFLICT for either."""
import os
import sqlite3
from contextlib import contextmanager

from sqlalchemy import Integer, String, and_, any_, bindparam, event, func, literal_column, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from .extensions import db


def name() -> str:
    return db.session.get_bind().dialect.name


def insert(model):
    """An INSERT that supports `.on_conflict_do_nothing()` / `.on_conflict_do_update()`."""
    return (postgresql.insert if name() == "postgresql" else sqlite.insert)(model)


def id_in(column, ids):
    """`column IN (ids)` for a long list of ids. PostgreSQL gets them as one array parameter: a
    2,000-item IN list is rendered, converted by the driver and parsed item by item on every
    execution (0.6 s of client CPU per 50,000 new alerts). SQLite has no arrays: it gets them as
    one JSON text read by json_each(), since an expanding IN list costs SQLAlchemy a bound
    parameter per id to render and SQLite a fresh statement to prepare per list length."""
    if name() == "postgresql":
        return column == any_(bindparam("ids", list(ids), type_=postgresql.ARRAY(Integer)))
    listed = ",".join(str(int(i)) for i in ids)
    return column.in_(select(literal_column("value")).select_from(
        func.json_each(bindparam("ids", f"[{listed}]", type_=String))).scalar_subquery())


def text_search(columns, lowered):
    """Any of `columns`, lowered, holds `lowered` (already lower case) as plain text (`%`, `_` are
    letters). PostgreSQL's LIKE is served by the trigram indexes on lower(column) (migration
    0016p). SQLite has the lowered columns in an index (client_id, active, lower(name),
    lower(sku)): instr() reads them from it instead of lowering every row, without a pattern
    built per row; the always-true range on the first one (a name is never NULL; the index is
    partial on that very term, written as a constant) is what makes SQLite's planner take that
    index rather than read the table."""
    if name() == "postgresql":
        return or_(*(func.lower(column).contains(lowered, autoescape=True) for column in columns))
    return and_(func.lower(columns[0]) >= literal_column("''"), or_(*(func.instr(func.lower(column), lowered) > 0
                                                   for column in columns)))


def lock_for_write(model, *where):
    """SQLite has no FOR UPDATE: a no-op UPDATE of the rows `where` picks takes the database's
    write lock now, so the read that follows sees the newest data and no other writer commits
    before ours. Every column keeps its value, those with an `onupdate` (updated_at) included.
    PostgreSQL needs nothing here (the caller's SELECT ... FOR UPDATE locks the row)."""
    if name() == "sqlite":
        table = model.__table__
        unchanged = {c.name: c for c in table.columns if c.onupdate is not None}
        db.session.execute(update(table).where(*where).values(id=table.c.id, **unchanged))


def private_sqlite_file(uri: str):
    """The SQLite file readable by its owner only (0600), created so before SQLite opens it; its
    -wal and -shm files take the same mode from it."""
    if not uri.startswith("sqlite:///") or ":memory:" in uri or "mode=memory" in uri:
        return
    path = uri.removeprefix("sqlite:///").split("?", 1)[0]
    if not path:
        return
    try:
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        os.chmod(path, 0o600)
    except OSError:  # a read-only or missing directory: SQLite will say so when it connects
        pass


def engine_options(uri: str) -> dict:
    """Pool settings per database: SQLite waits for its single writer; PostgreSQL checks
    connections before use so that a restarted server is picked up again."""
    if uri.startswith("sqlite"):
        return {"connect_args": {"timeout": 30, "check_same_thread": False}}
    return {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 10}


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers (the bell) never wait for the writer
        cursor.execute("PRAGMA foreign_keys=ON")
        # In WAL mode NORMAL syncs at checkpoints, not every commit: a crash of the process loses
        # nothing committed (only a power cut can lose the last moments), and the dispatcher's
        # commit per message costs microseconds instead of an fsync.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def begin_write():
    """Start the session's transaction as a writer: on SQLite BEGIN IMMEDIATE (a transaction that
    read first could not write after another writer committed); on PostgreSQL nothing (row locks)."""
    db.session.commit()
    if name() == "sqlite":
        db.session.connection().exec_driver_sql("BEGIN IMMEDIATE")


def _key(key):
    """A key as a constant in the statement (a bound one has no type for json_build_object's "any")."""
    if not key.replace("_", "").isalnum():
        raise ValueError(f"not a plain key: {key!r}")
    return literal_column(f"'{key}'")


def json_object(*pairs):
    """A JSON object built in SQL from ("key", expression) pairs: json_build_object on PostgreSQL,
    json_object on SQLite. A value that is itself JSON (json_object(), json_array()) nests as JSON;
    a NULL is JSON null."""
    args = [arg for key, value in pairs for arg in (_key(key), value)]
    return func.json_build_object(*args) if name() == "postgresql" else func.json_object(*args)


def json_array(*values):
    """A JSON array built in SQL (json_build_array / json_array)."""
    return func.json_build_array(*values) if name() == "postgresql" else func.json_array(*values)


def as_json(value):
    """`value` (JSON, or NULL) kept as JSON where it passes through a CASE: SQLite forgets that a
    CASE's result came from json_object() (it would nest as a string) unless json() says so again."""
    return value if name() == "postgresql" else func.json(value)


_PLAN_CACHE_MODE = text("SELECT current_setting('plan_cache_mode'), set_config('plan_cache_mode', :mode, true)")


@contextmanager
def custom_plans():
    """On PostgreSQL, statements inside are planned for their own parameters each time. psycopg
    prepares a statement after its fifth execution, and PostgreSQL may then keep one generic plan
    for it, blind to how many ids an `= ANY(:ids)` array holds: for a chunk of 2,000 alerts such
    a plan ran three to four times slower than the planned one. The setting is back as it was after."""
    if name() != "postgresql":
        yield
        return
    before = db.session.execute(_PLAN_CACHE_MODE, {"mode": "force_custom_plan"}).first()[0]
    try:
        yield
    finally:
        db.session.execute(_PLAN_CACHE_MODE, {"mode": before})
