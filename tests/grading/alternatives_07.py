"""Correct solutions to module 07 written differently from the references (a learner's own way).

- 07.1 no lock held across the read: one `UPDATE ... WHERE quantity >= :n RETURNING` per
  candidate warehouse, in warehouse order, so that the database does the arithmetic (a
  concurrent update waits for the row, then re-checks the `WHERE` on the new quantity).
- 07.2 a `while` loop over `sessionmaker.begin()` (which commits on leaving the block), the
  code read as `error.orig.pgcode`, a fixed growing pause.
- 07.3 a test class; the lost update shown on the last unit (the second order must be refused),
  and the desk's collision made by a raw `UPDATE` that holds the row lock.
"""

_SAFE_RESERVE_STOCK = '''\
async def safe_reserve_stock(session, product_id, quantity):
    """Take `quantity` units from the first warehouse that has enough; its id. No commit."""
    enough = (StockLevel.product_id == product_id) & (StockLevel.quantity >= quantity)
    candidates = await session.scalars(
        select(StockLevel.warehouse_id).where(enough).order_by(StockLevel.warehouse_id)
    )
    for warehouse_id in list(candidates):
        taken = await session.scalar(
            update(StockLevel)
            .where(enough, StockLevel.warehouse_id == warehouse_id)
            .values(quantity=StockLevel.quantity - quantity)
            .returning(StockLevel.warehouse_id)
        )
        if taken is not None:  # None: another order took them first
            return taken
    raise OutOfStock(f"product {product_id}: no warehouse has {quantity} units")
'''

_RUN_TRANSACTION = '''\
async def run_transaction(sessionmaker, work, *, attempts=3):
    """`work(session)` in a new session, then commit; re-run whole on 40001 and 40P01."""
    attempt = 0
    while True:
        attempt += 1
        try:
            async with sessionmaker.begin() as session:  # commits when the block ends
                return await work(session)
        except DBAPIError as error:
            code = getattr(error.orig, "pgcode", None)
            if code not in ("40001", "40P01") or attempt >= attempts:
                raise
            await asyncio.sleep(0.002 * attempt)
'''

_TESTS = """\
%%ipytest
# Your tests, each @pytest.mark.asyncio(loop_scope="module")
@pytest.mark.asyncio(loop_scope="module")
class TestOverlappingOrders:
    async def test_the_last_unit_is_sold_once(self, committing_sessionmaker):
        shop = await stock_a_product(committing_sessionmaker, 1)

        async def first_order(session):
            await services.reserve_stock(session, shop.product_id, 1)

        async def second_order():
            async with committing_sessionmaker() as session:
                with pytest.raises(OutOfStock):
                    await services.place_order(session, shop.customer_id, [(shop.product_id, 1)])

        await hold_and_race(committing_sessionmaker, first_order, second_order)
        assert await units_left(committing_sessionmaker, shop.product_id) == 0

    async def test_the_desk_retries_and_charges_once(self, shop_engine, committing_sessionmaker):
        shop = await stock_a_product(committing_sessionmaker, 5)
        payments = AsyncMock(name="payments")
        desk = OrderDesk(shop_engine, payments)

        async def someone_else_updates_the_stock(session):
            await session.execute(
                text("UPDATE stock_levels SET quantity = quantity - 2 WHERE product_id = :p"),
                {"p": shop.product_id},
            )

        async def an_order_of_one():
            return await desk.place(shop.customer_id, [(shop.product_id, 1)])

        _, order_id = await hold_and_race(
            committing_sessionmaker, someone_else_updates_the_stock, an_order_of_one
        )
        assert order_id == 1
        assert await units_left(committing_sessionmaker, shop.product_id) == 2
        assert payments.await_count == 1

ex3_tests = seeded_bugs.tests_in(globals())  # the tests of this cell, for the check
"""

ALTERNATIVES = {
    "07_concurrency_and_isolation": {
        "ex1-solution": _SAFE_RESERVE_STOCK.rstrip(),
        "ex2-solution": _RUN_TRANSACTION.rstrip(),
        "ex3-solution": _TESTS.rstrip(),
    },
}
