"""The lending library through fastapi_testkit: each test starts on empty tables."""

import pytest
from sqlalchemy import select, text

from lending.models import Loan, Reminder
from lending.settings import get_settings

pytestmark = pytest.mark.anyio

# Read at import, as a suite often does: only the testkit's cache clearing lets a test that
# changes the environment see its change after this.
DEFAULT_LIMIT = get_settings().max_loans_per_member


async def add_book(client, isbn: str = "978-0-00-000001-1") -> int:
    response = await client.post("/books", json={"isbn": isbn, "title": "Dune"})
    assert response.status_code == 201
    return response.json()["id"]


async def add_member(client, email: str = "ada@example.com") -> int:
    response = await client.post("/members", json={"email": email, "name": email.split("@")[0]})
    assert response.status_code == 201
    return response.json()["id"]


async def lend(client, book_id: int, member_id: int):
    return await client.post("/loans", json={"book_id": book_id, "member_id": member_id})


async def test_a_loan_is_committed_and_listed(client, session):
    book_id, member_id = await add_book(client), await add_member(client)

    response = await lend(client, book_id, member_id)

    assert response.status_code == 201
    assert await session.scalar(select(Loan.book_id)) == book_id
    listed = (await client.get(f"/members/{member_id}/loans")).json()
    assert [loan["book_id"] for loan in listed] == [book_id]


async def test_each_test_starts_with_empty_tables(client, session):
    # The same ISBN and e-mail as the test above: its commits were rolled back at its end.
    book_id, member_id = await add_book(client), await add_member(client)

    assert (await lend(client, book_id, member_id)).status_code == 201
    assert len((await session.scalars(select(Loan))).all()) == 1


async def test_a_book_that_is_out_cannot_be_lent_again(client):
    book_id = await add_book(client)
    ada, bob = await add_member(client), await add_member(client, "bob@example.com")
    assert (await lend(client, book_id, ada)).status_code == 201

    refused = await lend(client, book_id, bob)
    # The refused INSERT was rolled back to a savepoint: the test's transaction goes on.
    other_book = await add_book(client, "978-0-00-000002-1")

    assert refused.status_code == 409
    assert (await lend(client, other_book, bob)).status_code == 201


async def test_a_returned_book_can_be_lent_again(client):
    book_id = await add_book(client)
    ada, bob = await add_member(client), await add_member(client, "bob@example.com")
    loan = (await lend(client, book_id, ada)).json()

    returned = await client.post(f"/loans/{loan['id']}/return")

    assert returned.status_code == 200
    assert (await client.get(f"/members/{ada}/loans")).json() == []
    assert (await lend(client, book_id, bob)).status_code == 201


async def test_a_member_sees_only_their_own_loans(client):
    ada, bob = await add_member(client), await add_member(client, "bob@example.com")
    adas_book, bobs_book = await add_book(client), await add_book(client, "978-0-00-000002-1")
    await lend(client, adas_book, ada)
    await lend(client, bobs_book, bob)

    listed = (await client.get(f"/members/{ada}/loans")).json()

    assert [loan["book_id"] for loan in listed] == [adas_book]


async def test_the_default_loan_limit(client):
    member_id = await add_member(client)
    books = [await add_book(client, f"978-0-00-00000{n}-1") for n in range(DEFAULT_LIMIT + 1)]

    answers = [(await lend(client, book_id, member_id)).status_code for book_id in books]

    assert answers == [201] * DEFAULT_LIMIT + [409]


async def test_the_loan_limit_comes_from_the_environment(client, monkeypatch):
    monkeypatch.setenv("LENDING_MAX_LOANS_PER_MEMBER", "1")
    member_id = await add_member(client)
    first, second = await add_book(client), await add_book(client, "978-0-00-000002-1")

    assert (await lend(client, first, member_id)).status_code == 201
    assert (await lend(client, second, member_id)).status_code == 409


async def test_the_background_task_writes_the_reminder(client, session):
    book_id, member_id = await add_book(client), await add_member(client)

    loan = (await lend(client, book_id, member_id)).json()

    # The task ran before the ASGI call returned, in a session of its own from SessionLocal,
    # which the testkit bound to this test's connection.
    reminder = await session.scalar(select(Reminder))
    assert (reminder.loan_id, reminder.recipient) == (loan["id"], "ada@example.com")


async def test_the_schema_is_the_migrations_head(session):
    # The schema came from `alembic upgrade head`, as in production, not from create_all.
    version = await session.scalar(text("SELECT version_num FROM alembic_version"))

    assert version == "0001"
