"""Configuration from the environment, read once and cached, as FastAPI's settings tutorial does."""

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Each field is read from LENDING_<FIELD NAME> (e.g. LENDING_MAX_LOANS_PER_MEMBER)."""

    model_config = SettingsConfigDict(env_prefix="LENDING_")

    database_url: str = "postgresql+asyncpg://lending@localhost/lending"
    max_loans_per_member: int = 3
    loan_days: int = 21


@lru_cache
def get_settings() -> Settings:
    """The settings, read from the environment on the first call only."""
    return Settings()
