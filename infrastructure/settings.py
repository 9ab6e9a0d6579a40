"""The single configuration object, read from the environment (and a `.env` file)."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from events.keys import MasterKeyring


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
    metrics_port: int = Field(
        default=9464,
        alias="CASEWORK_METRICS_PORT",
        ge=0,
        le=65535,
        description="Prometheus endpoint of the worker (and an in-process projector); 0: off.",
    )
    codec_keys: SecretStr | None = Field(
        default=None,
        alias="CASEWORK_CODEC_KEYS",
        description=(
            "Temporal payload codec keyring, 'id1:base64key,id2:base64key' (32-byte keys; "
            "the first encrypts, all decrypt). Production sets it from its secret store. "
            "Unset: a development keyring generated once in <data dir>/keys/codec.keys."
        ),
    )
    engine_database_url: str | None = Field(
        default=None,
        alias="CASEWORK_ENGINE_DATABASE_URL",
        description=(
            "DSN of the worker's login (a member of role casework_engine: INSERT and SELECT "
            "on the event log only). Defaults to DATABASE_URL."
        ),
    )
    projector_database_url: str | None = Field(
        default=None,
        alias="CASEWORK_PROJECTOR_DATABASE_URL",
        description=(
            "DSN of the projector's login (a member of role casework_projector: SELECT on the "
            "event log, writes to read models only). Defaults to DATABASE_URL."
        ),
    )
    master_keys: SecretStr | None = Field(
        default=None,
        alias="CASEWORK_MASTER_KEYS",
        description=(
            "Master keys wrapping each client's data key (personal fields in the event log), "
            "'id1:base64key,id2:base64key' (32-byte keys; the first wraps new keys, all "
            "unwrap). Unset: a development key generated once in <data dir>/keys/master.keys."
        ),
    )

    def master_keyring(self) -> MasterKeyring:
        """The master keys of `CASEWORK_MASTER_KEYS`, else the development key file."""
        from events.keys import MasterKeyring

        spec = self.master_keys.get_secret_value() if self.master_keys else None
        return MasterKeyring.configured(spec, self.data_dir)

    @model_validator(mode="after")
    def _role_urls_default_to_database_url(self) -> Settings:
        if self.engine_database_url is None:
            self.engine_database_url = self.database_url
        if self.projector_database_url is None:
            self.projector_database_url = self.database_url
        return self

    @property
    def temporal_host(self) -> str:
        return self.temporal_address.rsplit(":", 1)[0]

    @property
    def temporal_port(self) -> int:
        return int(self.temporal_address.rsplit(":", 1)[1])


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
