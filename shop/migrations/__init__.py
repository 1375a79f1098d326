"""The shop's Alembic migrations: what builds its schema in production (and in the tests that
want the schema production has, module 06).

There is no alembic.ini: `alembic_config()` builds the configuration in code, for programs
(`alembic.command.upgrade(alembic_config(url), "head")`) and for tests, which pass an open
connection instead of a URL (`config.attributes["connection"]`, the recipe of Alembic's
cookbook, "Programmatic API use (connection sharing) with asyncio").
"""

from alembic.config import Config


def alembic_config(database_url: str | None = None) -> Config:
    """Alembic's configuration for the shop's migrations. Without a URL, env.py uses the one in
    the app's settings (DATABASE_URL), unless a test hands it a connection."""
    config = Config()
    config.set_main_option("script_location", "shop:migrations")
    if database_url:
        # ConfigParser interpolates "%": a password holding one must be doubled.
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config
