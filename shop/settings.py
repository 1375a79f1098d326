"""Configuration, read from the environment (or passed explicitly to `create_app`)."""

from pydantic_settings import BaseSettings


class Settings(BaseSettings):
    """Each field is read from the environment variable of the same name, upper-cased."""

    database_url: str = "sqlite+aiosqlite:///./shop.db"
    exchange_rates_url: str = "https://api.frankfurter.app"
    shop_currency: str = "EUR"
    http_timeout_seconds: float = 5.0
    # Convenient for a demo or a throwaway database; a real deployment runs migrations instead.
    create_schema: bool = False
