"""A small lending library (books, members, loans): the course's second app, for module 09.

Written in the style of FastAPI's tutorials, unlike the shop: a module-level `app`, settings
from an `lru_cache`d `get_settings()`, a module-level engine and `SessionLocal`, a `get_session`
dependency that yields a session, and a schema built by Alembic migrations.

Run it with: uvicorn lending.app:app (after `alembic -c lending/alembic.ini upgrade head`)
"""
