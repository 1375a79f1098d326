"""What the routes do, apart from HTTP: lend a book, take it back, list a member's loans."""

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from fastapi import HTTPException
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from lending import db
from lending.models import Book, Loan, Member, Reminder
from lending.settings import Settings


async def check_can_borrow(
    session: AsyncSession, book_id: int, member_id: int, max_loans: int
) -> None:
    """404 for an unknown book or member; 409 when the member has `max_loans` books out."""
    if await session.get(Book, book_id) is None:
        raise HTTPException(404, f"book {book_id} does not exist")
    if await session.get(Member, member_id) is None:
        raise HTTPException(404, f"member {member_id} does not exist")
    open_loans = await session.scalar(
        select(func.count()).where(Loan.member_id == member_id, Loan.returned_at.is_(None))
    )
    if open_loans >= max_loans:
        raise HTTPException(409, f"member {member_id} has {open_loans} books out already")


async def lend_book(
    session: AsyncSession, book_id: int, member_id: int, settings: Settings
) -> Loan:
    """Lend a book for the loan period; 409 when the book is out already."""
    await check_can_borrow(session, book_id, member_id, settings.max_loans_per_member)
    due_on = date.today() + timedelta(days=settings.loan_days)
    loan = Loan(book_id=book_id, member_id=member_id, due_on=due_on)
    session.add(loan)
    try:
        await session.commit()
    except IntegrityError:
        # The unique index one_open_loan_per_book refused it: the book is out.
        await session.rollback()
        raise HTTPException(409, f"book {book_id} is out on loan") from None
    return loan


async def return_book(session: AsyncSession, loan_id: int) -> Loan:
    loan = await session.get(Loan, loan_id)
    if loan is None:
        raise HTTPException(404, f"loan {loan_id} does not exist")
    if loan.returned_at is not None:
        raise HTTPException(409, f"loan {loan_id} was returned already")
    loan.returned_at = datetime.now(UTC)
    await session.commit()
    return loan


async def open_loans_of(session: AsyncSession, member_id: int) -> Sequence[Loan]:
    """The member's loans not returned yet, oldest first."""
    return (
        await session.scalars(
            select(Loan)
            .where(Loan.member_id == member_id, Loan.returned_at.is_(None))
            .order_by(Loan.id)
        )
    ).all()


async def write_reminder(loan_id: int) -> None:
    """Record the due-date reminder of a loan (the row stands in for the e-mail).

    A background task: it runs after the response has gone out, as its own unit of work, in a
    session of its own from `db.SessionLocal` (looked up now, at call time).
    """
    async with db.SessionLocal() as session:
        loan = await session.get(Loan, loan_id)
        if loan is None:
            raise LookupError(f"loan {loan_id} does not exist (was it committed?)")
        member = await session.get(Member, loan.member_id)
        session.add(Reminder(loan_id=loan_id, recipient=member.email, due_on=loan.due_on))
        await session.commit()
