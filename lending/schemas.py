"""Request and response bodies."""

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field


class BookIn(BaseModel):
    isbn: str = Field(min_length=10, max_length=17)
    title: str = Field(min_length=1, max_length=300)


class MemberIn(BaseModel):
    email: str = Field(min_length=3, max_length=254)
    name: str = Field(min_length=1, max_length=200)


class LoanIn(BaseModel):
    book_id: int
    member_id: int


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class BookOut(Out):
    id: int
    isbn: str
    title: str


class MemberOut(Out):
    id: int
    email: str
    name: str


class LoanOut(Out):
    id: int
    book_id: int
    member_id: int
    due_on: date
    returned_at: datetime | None
