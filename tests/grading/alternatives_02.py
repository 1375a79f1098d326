"""Correct solutions of module 02 written differently from the references (a learner's own way).

- 02.1 one fixture instead of two; the connection opened with `await engine.connect()` and the
  session made by an `async_sessionmaker`; no explicit `rollback()`: closing a connection whose
  transaction is still open rolls it back, in a `finally`.
- 02.2 `event.listen(...)` calls on named functions instead of decorators, and `BEGIN DEFERRED`
  (SQLite's default kind of BEGIN, spelled out).
- 02.3 both dependencies overridden, `get_session` with a session per request of its own making
  (redundant, since `get_session` depends on `get_sessionmaker`, but correct).
- 02.4 `Base.metadata.tables` instead of `sorted_tables`, names quoted by the dialect's preparer,
  `TRUNCATE TABLE ... CASCADE` sent with `exec_driver_sql`.
"""

_EX1_SESSION = """\
# ex1_session: per test, on the module loop; a session joined to a rolled-back outer transaction.
@pytest_asyncio.fixture(scope="function", loop_scope="module")
async def ex1_session(ex1_engine):
    connection = await ex1_engine.connect()
    try:
        await connection.begin()
        make_session = async_sessionmaker(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        async with make_session() as session:
            yield session
    finally:
        await connection.close()  # an open transaction is rolled back when its connection closes
"""

_ENABLE_SAVEPOINTS = '''\
def enable_savepoints(engine):
    """SQLAlchemy's documented fix for SAVEPOINT on sqlite3/aiosqlite."""

    def driver_stays_out(dbapi_connection, connection_record):
        dbapi_connection.isolation_level = None

    def sqlalchemy_begins(connection):
        connection.exec_driver_sql("BEGIN DEFERRED")

    event.listen(engine.sync_engine, "connect", driver_stays_out)
    event.listen(engine.sync_engine, "begin", sqlalchemy_begins)
'''

_WIRE_APP = '''\
def wire_app(app, connection):
    """Every session the app opens joins the test's connection, with savepoints."""

    def sessionmaker_on_the_test_connection():
        return async_sessionmaker(
            connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )

    async def session_per_request():
        async with sessionmaker_on_the_test_connection()() as session:
            yield session

    app.dependency_overrides[get_sessionmaker] = sessionmaker_on_the_test_connection
    app.dependency_overrides[get_session] = session_per_request
'''

_EMPTY_ALL_TABLES = '''\
async def empty_all_tables(connection):
    """Empty every table of the shop in one TRUNCATE; ids start again at 1."""
    quote = connection.dialect.identifier_preparer.quote
    names = ", ".join(quote(name) for name in Base.metadata.tables)  # any order will do
    await connection.exec_driver_sql(f"TRUNCATE TABLE {names} RESTART IDENTITY CASCADE")
'''

ALTERNATIVES = {
    "02_transactional_isolation": {
        "ex1-solution": _EX1_SESSION.rstrip(),
        "ex2-solution": _ENABLE_SAVEPOINTS.rstrip(),
        "ex3-solution": _WIRE_APP.rstrip(),
        "ex4-solution": _EMPTY_ALL_TABLES.rstrip(),
    },
}
