"""Module 05's chores between demos and checks (lesson and exercises).

Every database that module 05's demos and checks create is named after this kernel's own
database (`course_kernel_<pid>_gw0`, `..._template`, ...): many kernels share the course's
server, and the kernel's name makes theirs unique to it. These list and drop them, and print
them without the pid.
"""

from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from course.lessons.databases import admin, kernel_url

__all__ = [
    "databases_of_this_kernel",
    "databases_on_the_server",
    "drop_databases",
    "drop_leftovers",
    "kernel_database",
    "shown",
]


def kernel_database() -> str:
    """This kernel's database: `course_kernel_<pid>`."""
    return make_url(kernel_url()).database


async def databases_on_the_server() -> set[str]:
    """The names of every database on the server (any database's pg_database lists them)."""
    engine = create_async_engine(kernel_url())
    try:
        async with engine.connect() as connection:
            names = await connection.execute(text("SELECT datname FROM pg_database"))
            return set(names.scalars())
    finally:
        await engine.dispose()


async def databases_of_this_kernel() -> list[str]:
    """The databases whose name starts with this kernel's: those its demos or checks created."""
    prefix = f"{kernel_database()}_"
    return sorted(name for name in await databases_on_the_server() if name.startswith(prefix))


async def drop_databases(names) -> None:
    """DROP DATABASE IF EXISTS ... WITH (FORCE), for each name (open connections are ended)."""
    if statements := [f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in names]:
        await admin(*statements)


async def drop_leftovers() -> int:
    """Drop the databases of this kernel that are left on the server; return how many."""
    leftovers = await databases_of_this_kernel()
    await drop_databases(leftovers)
    return len(leftovers)


def shown(output: str) -> str:
    """The text with this kernel's database name (it holds the kernel's pid) made stable, as
    the build stores it."""
    return output.replace(kernel_database(), "course_kernel_<pid>")
