"""Correct solutions to module 06 written differently from the references (a learner's own way).

- 06.1 early returns instead of if/elif/else, `os.getenv`, the image passed by position, and the
  container started and stopped by hand in a try/finally instead of a `with` block.
- 06.2 another column and another way to show it: a stock level beyond a 4-byte integer, tried
  in a savepoint whose error is swallowed, then the rows counted (no `pytest.raises`).
- 06.3 one synchronous function that asserts as it goes: `compare_type` spelt out, and the CHECK
  constraints compared as sorted lists per table of the metadata.
"""

_DATABASE_URL_FOR_TESTS = '''\
@contextmanager
def database_url_for_tests(
    *, docker_answers=docker_daemon_answers, postgres_container=PostgresContainer
):
    """The asyncpg URL for the tests: TEST_DATABASE_URL, a container, or the local server."""
    given = os.getenv("TEST_DATABASE_URL", "")
    if given:
        yield given
        return
    if not docker_answers():
        print("Docker is not running here, so the tests run on the local PostgreSQL server")
        yield os.environ["DATABASE_URL"]
        return
    container = postgres_container(POSTGRES_IMAGE, driver="asyncpg").start()
    try:
        yield container.get_connection_url()
    finally:
        container.stop()
'''

_DIVERGENCE = """\
%%ipytest
# Your test: one async def test_...(connection), @pytest.mark.asyncio
@pytest.mark.asyncio
async def test_a_stock_level_beyond_an_integer_is_not_stored(connection):
    await connection.execute(insert(Product).values(id=7, sku="BOLT", name="Bolt", price_cents=5))
    await connection.execute(insert(Warehouse).values(id=7, code="EAST", name="East"))
    try:
        async with connection.begin_nested():
            huge = {"product_id": 7, "warehouse_id": 7, "quantity": 2**31}
            await connection.execute(insert(StockLevel).values(**huge))
    except DBAPIError:
        pass  # refused: what production does
    stored = await connection.scalar(select(func.count()).select_from(StockLevel))
    assert stored == 0, "a quantity of 2**31 was stored in an INTEGER column"

ex2_tests = seeded_bugs.tests_in(globals())  # your test, for the check
"""

_DRIFT_TEST = """\
%%ipytest
# Your test: one async def test_...(migrated_connection), @pytest.mark.asyncio
def assert_no_drift(sync_connection):
    options = {"compare_type": True, "compare_server_default": True}
    context = MigrationContext.configure(sync_connection, opts=options)
    found = compare_metadata(context, Base.metadata)
    assert not found, f"models and migrations differ: {found}"
    inspector = sa.inspect(sync_connection)
    for table in Base.metadata.tables.values():
        wanted = sorted(c.name for c in table.constraints if isinstance(c, sa.CheckConstraint))
        built = sorted(check["name"] for check in inspector.get_check_constraints(table.name))
        assert built == wanted, f"{table.name}: CHECK constraints {built}, the model has {wanted}"


@pytest.mark.asyncio
async def test_no_drift_between_models_and_migrations(migrated_connection):
    await migrated_connection.run_sync(assert_no_drift)

ex3_tests = seeded_bugs.tests_in(globals())  # your test, for the check
"""

ALTERNATIVES = {
    "06_production_parity": {
        "ex1-solution": _DATABASE_URL_FOR_TESTS.rstrip(),
        "ex2-solution": _DIVERGENCE.rstrip(),
        "ex3-solution": _DRIFT_TEST.rstrip(),
    },
}
