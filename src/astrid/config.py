"""One settings object for the whole package (pydantic-settings, ``ASTRID_*`` variables).

No other module reads the environment: the CLI builds a `Settings` (flags override the
environment) and passes it, or the values it needs, down.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """AstrID settings; every field can be set with an ``ASTRID_<NAME>`` variable."""

    model_config = SettingsConfigDict(env_prefix="ASTRID_", extra="ignore")

    data_dir: Path = Field(default=Path("./astrid-data"), description="SQLite file + store")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default sqlite:///<data_dir>/astrid.sqlite"
    )
    store_url: str | None = Field(
        default=None, description="fsspec URL of the object store; default <data_dir>/store"
    )
    threshold: float = Field(default=5.0, gt=0, description="|S_corr| detection threshold")
    workers: int = Field(default=0, ge=0, description="processes over science frames; 0 = cores")

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        if self.database_url is None:
            self.database_url = f"sqlite:///{(self.data_dir / 'astrid.sqlite').resolve()}"
        if self.store_url is None:
            self.store_url = str((self.data_dir / "store").resolve())
        return self

    @property
    def db_url(self) -> str:
        """The database URL (always set after validation)."""
        assert self.database_url is not None
        return self.database_url

    @property
    def store_root(self) -> str:
        """The object-store URL (always set after validation)."""
        assert self.store_url is not None
        return self.store_url
