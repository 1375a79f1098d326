"""The HTTP routes."""

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from lending import loans
from lending.db import get_session
from lending.models import Book, Loan, Member
from lending.schemas import BookIn, BookOut, LoanIn, LoanOut, MemberIn, MemberOut
from lending.settings import Settings, get_settings

SessionDep = Annotated[AsyncSession, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]

router = APIRouter()


async def add(session: AsyncSession, row: Book | Member, conflict: str) -> Book | Member:
    """Insert a row; 409 when a unique column already holds its value."""
    session.add(row)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise HTTPException(409, conflict) from None
    return row


@router.post("/books", status_code=201, response_model=BookOut)
async def add_book(body: BookIn, session: SessionDep) -> Book:
    return await add(session, Book(**body.model_dump()), f"ISBN {body.isbn} exists already")


@router.post("/members", status_code=201, response_model=MemberOut)
async def register_member(body: MemberIn, session: SessionDep) -> Member:
    return await add(session, Member(**body.model_dump()), f"{body.email} is a member already")


@router.post("/loans", status_code=201, response_model=LoanOut)
async def lend(
    body: LoanIn, session: SessionDep, settings: SettingsDep, background_tasks: BackgroundTasks
) -> Loan:
    loan = await loans.lend_book(session, body.book_id, body.member_id, settings)
    background_tasks.add_task(loans.write_reminder, loan.id)
    return loan


@router.post("/loans/{loan_id}/return", response_model=LoanOut)
async def return_book(loan_id: int, session: SessionDep) -> Loan:
    return await loans.return_book(session, loan_id)


@router.get("/members/{member_id}/loans", response_model=list[LoanOut])
async def open_loans(member_id: int, session: SessionDep) -> Sequence[Loan]:
    return await loans.open_loans_of(session, member_id)
