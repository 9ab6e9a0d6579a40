"""The single configuration object, read from the environment (and a `.env` file)."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class LogFormat(StrEnum):
    CONSOLE = "console"
    JSON = "json"


class Settings(BaseSettings):
    """Everything Casework reads from its environment.

    Every field can be set by the environment variable in its alias; unknown
    variables are ignored.
    """

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    database_url: str | None = Field(
        default=None,
        alias="DATABASE_URL",
        description="PostgreSQL DSN. Unset: an embedded PostgreSQL in the data directory.",
    )
    temporal_address: str = Field(default="127.0.0.1:7233", alias="TEMPORAL_ADDRESS")
    temporal_namespace: str = Field(default="default", alias="TEMPORAL_NAMESPACE")
    task_queue: str = Field(default="casework", alias="CASEWORK_TASK_QUEUE")
    data_dir: Path = Field(default=Path(".data"), alias="CASEWORK_DATA_DIR")
    log_format: LogFormat = Field(default=LogFormat.CONSOLE, alias="CASEWORK_LOG_FORMAT")
    log_level: str = Field(default="INFO", alias="CASEWORK_LOG_LEVEL")
    temporal_ui_port: int = Field(default=8233, alias="CASEWORK_TEMPORAL_UI_PORT")
    embedded_pg_port: int = Field(default=55432, alias="CASEWORK_EMBEDDED_PG_PORT")

    @property
    def temporal_host(self) -> str:
        return self.temporal_address.rsplit(":", 1)[0]

    @property
    def temporal_port(self) -> int:
        return int(self.temporal_address.rsplit(":", 1)[1])


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
