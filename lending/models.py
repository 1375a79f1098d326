"""The tables. The schema itself is built by the migrations in lending/migrations."""

from datetime import UTC, date, datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Book(Base):
    __tablename__ = "books"

    id: Mapped[int] = mapped_column(primary_key=True)
    isbn: Mapped[str] = mapped_column(String(17), unique=True)
    title: Mapped[str] = mapped_column(String(300))


class Member(Base):
    __tablename__ = "members"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))


class Loan(Base):
    __tablename__ = "loans"
    # A book is out on one loan at most: the database refuses a second open loan, so two
    # concurrent requests cannot both lend it (a check in Python could not promise that).
    __table_args__ = (
        Index(
            "one_open_loan_per_book",
            "book_id",
            unique=True,
            postgresql_where=text("returned_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    book_id: Mapped[int] = mapped_column(ForeignKey("books.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    lent_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=lambda: datetime.now(UTC)
    )
    due_on: Mapped[date]
    returned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Reminder(Base):
    """A due-date reminder for a loan: written by a background task after the loan's response."""

    __tablename__ = "reminders"

    id: Mapped[int] = mapped_column(primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"))
    recipient: Mapped[str] = mapped_column(String(254))
    due_on: Mapped[date]
