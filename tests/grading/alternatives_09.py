"""Correct solutions to module 09 written differently from the references (a learner's own way),
and plausible wrong ones that the checks must refuse (tests/toolkit/test_capstone_exercises.py).

- 09.1 `importlib.resources` finds alembic.ini; the settings in another order; the loop scope
  left to its default (anyio: one loop for the run, which lending allows as well).
- 09.2 a test class, helpers as plain functions, the loans read back through the API and the
  reminder with a query on its loan's id.
"""

from course.paths import PROJECT_ROOT
from course.seeded_bugs import LENDING_BUGS

_SETUP = '''\
%%writetest {EX1_DIR}/conftest.py
"""fastapi_testkit, configured for the lending app."""

from importlib.resources import files

from fastapi_testkit import Alembic, Testkit
from lending import app as lending_app
from lending import db, settings

pytest_plugins = ["fastapi_testkit"]

testkit = Testkit(
    runner="anyio",
    app=lending_app.app,
    schema=Alembic(str(files("lending") / "alembic.ini")),
    settings_caches=[settings.get_settings],
    dependency=db.get_session,
    sessionmakers=[f"{db.__name__}.SessionLocal"],
    provides="session",
)
'''

_SUITE = """\
%%writetest {EX2_DIR}/test_lending.py
import pytest
from sqlalchemy import func, select

from lending.models import Reminder


async def new(client, path, **body):
    response = await client.post(path, json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def new_member(client, name):
    return await new(client, "/members", email=f"{name}@example.org", name=name)


async def new_book(client, number):
    return await new(client, "/books", isbn=f"978-1-11-11111{number}-0", title=f"Book {number}")


@pytest.mark.anyio
class TestLending:
    async def test_lending_and_listing(self, client):
        member, book = await new_member(client, "cy"), await new_book(client, 1)
        loan = await client.post("/loans", json={"member_id": member, "book_id": book})
        assert loan.status_code == 201
        assert (await client.get(f"/members/{member}/loans")).json() == [loan.json()]

    async def test_only_one_loan_per_book(self, client):
        cy, di = await new_member(client, "cy"), await new_member(client, "di")
        book = await new_book(client, 1)
        await client.post("/loans", json={"member_id": cy, "book_id": book})
        second = await client.post("/loans", json={"member_id": di, "book_id": book})
        assert second.status_code == 409

    async def test_returning_frees_the_book(self, client):
        cy, di = await new_member(client, "cy"), await new_member(client, "di")
        book = await new_book(client, 1)
        loan = (await client.post("/loans", json={"member_id": cy, "book_id": book})).json()
        await client.post(f"/loans/{loan['id']}/return")
        assert (await client.get(f"/members/{cy}/loans")).json() == []
        again = await client.post("/loans", json={"member_id": di, "book_id": book})
        assert again.status_code == 201

    async def test_the_list_is_per_member(self, client):
        cy, di = await new_member(client, "cy"), await new_member(client, "di")
        await client.post("/loans", json={"member_id": di, "book_id": await new_book(client, 1)})
        assert (await client.get(f"/members/{cy}/loans")).json() == []

    @pytest.mark.parametrize("limit", [1, 2])
    async def test_the_limit_setting(self, client, monkeypatch, limit):
        monkeypatch.setenv("LENDING_MAX_LOANS_PER_MEMBER", str(limit))
        cy = await new_member(client, "cy")
        codes = []
        for number in range(limit + 1):
            book = await new_book(client, number)
            response = await client.post("/loans", json={"member_id": cy, "book_id": book})
            codes.append(response.status_code)
        assert codes == [201] * limit + [409]

    async def test_the_reminder_is_committed(self, client, session):
        cy, book = await new_member(client, "cy"), await new_book(client, 1)
        loan = (await client.post("/loans", json={"member_id": cy, "book_id": book})).json()
        count = select(func.count()).where(Reminder.loan_id == loan["id"])
        assert await session.scalar(count) == 1
"""

ALTERNATIVES = {
    "09_capstone": {
        "ex1-solution": _SETUP.rstrip(),
        "ex2-solution": _SUITE.rstrip(),
    },
}

# --- wrong answers: each must fail its check, for the reason named ---------------------------

_REFERENCE_SETUP = (PROJECT_ROOT / "capstone" / "lending_tests" / "conftest.py").read_text()


def _setup_with(old: str, new: str) -> str:
    assert old in _REFERENCE_SETUP, old
    return _REFERENCE_SETUP.replace(old, new)


# 09.1: conftest.py -> the words the check's report must hold
WRONG_SETUPS = {
    "provides a sessionmaker": (
        _setup_with('provides="session"', 'provides="sessionmaker"'),
        'provides="session"',
    ),
    "SessionLocal not replaced": (
        _setup_with('    sessionmakers=["lending.db.SessionLocal"],\n', ""),
        "name it in sessionmakers=",
    ),
    "settings cache never cleared": (
        _setup_with("    settings_caches=[get_settings],\n", ""),
        "name it in settings_caches=",
    ),
    "schema from create_all": (
        _setup_with(
            'schema=Alembic(Path(lending.__file__).parent / "alembic.ini")',
            "schema=lending.models.Base.metadata",
        ).replace("import lending\n", "import lending.models\n"),
        "The schema was not built by lending's migrations",
    ),
    "plugin not loaded": (
        _setup_with('pytest_plugins = ["fastapi_testkit"]\n', ""),
        "fastapi_testkit is not loaded",
    ),
}

_REFERENCE_SUITE_HEAD = """\
import pytest
from sqlalchemy import select

from lending.models import Reminder

pytestmark = pytest.mark.anyio


async def created(client, path, body):
    response = await client.post(path, json=body)
    assert response.status_code == 201
    return response.json()["id"]


async def lend(client, book_id, member_id):
    return await client.post("/loans", json={"book_id": book_id, "member_id": member_id})
"""

# 09.2: a test file -> the bugs it must miss
WRONG_SUITES = {
    "only the happy path, the response trusted": (
        _REFERENCE_SUITE_HEAD
        + """

async def test_lend_and_return(client):
    ada = await created(client, "/members", {"email": "ada@example.com", "name": "Ada"})
    dune = await created(client, "/books", {"isbn": "978-0-00-000001-1", "title": "Dune"})
    loan = await lend(client, dune, ada)
    assert loan.status_code == 201
    returned = await client.post(f"/loans/{loan.json()['id']}/return")
    assert returned.json()["returned_at"] is not None
""",
        LENDING_BUGS,
    ),
    "the default limit only, the reminder not looked at": (
        _REFERENCE_SUITE_HEAD
        + """

async def test_a_member_borrows_three_books_at_most(client):
    ada = await created(client, "/members", {"email": "ada@example.com", "name": "Ada"})
    books = [
        await created(client, "/books", {"isbn": f"978-0-00-00000{n}-1", "title": "B"})
        for n in range(4)
    ]
    codes = [(await lend(client, book, ada)).status_code for book in books]
    assert codes == [201, 201, 201, 409]
""",
        [
            "limit-read-at-import",
            "double-lend-not-409",
            "return-not-committed",
            "other-members-loans-listed",
            "reminder-not-committed",
        ],
    ),
}
