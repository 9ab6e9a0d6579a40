"""The single configuration object, read from the environment (and a `.env` file)."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field, SecretStr, field_validator, model_validator
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

    # --- the HTTP API (casework serve, casework up) --------------------------------
    http_host: str = Field(
        default="127.0.0.1",
        alias="CASEWORK_HTTP_HOST",
        description="Address the HTTP API listens on.",
    )
    http_port: int = Field(
        default=8000,
        alias="CASEWORK_HTTP_PORT",
        ge=0,
        le=65535,
        description="Port of the HTTP API (`casework serve`, `casework up`); 0: not in `up`.",
    )

    # --- staff accounts and sessions (application/identity) -------------------------
    # Durations are ISO 8601 (`PT15M`, `P30D`) or `[D days, ]HH:MM:SS`, all positive.
    sign_in_max_failures: int = Field(
        default=5,
        alias="CASEWORK_SIGN_IN_MAX_FAILURES",
        ge=1,
        le=100,
        description="Wrong passwords or TOTP codes within the failure window that lock an account.",
    )
    sign_in_failure_window: timedelta = Field(
        default=timedelta(minutes=15),
        alias="CASEWORK_SIGN_IN_FAILURE_WINDOW",
        description="The window in which failed sign-ins count towards a lockout.",
    )
    sign_in_lockout: timedelta = Field(
        default=timedelta(minutes=15),
        alias="CASEWORK_SIGN_IN_LOCKOUT",
        description="How long a locked account refuses every password sign-in.",
    )
    session_idle_timeout: timedelta = Field(
        default=timedelta(minutes=30),
        alias="CASEWORK_SESSION_IDLE_TIMEOUT",
        description="A session unused this long has ended (sign in again).",
    )
    session_absolute_timeout: timedelta = Field(
        default=timedelta(hours=12),
        alias="CASEWORK_SESSION_ABSOLUTE_TIMEOUT",
        description="A session ends this long after its sign-in, however busy.",
    )
    invitation_lifetime: timedelta = Field(
        default=timedelta(hours=72),
        alias="CASEWORK_INVITATION_LIFETIME",
        description="How long an invitation code (to set a password) stays usable.",
    )
    access_token_max_lifetime: timedelta = Field(
        default=timedelta(days=366),
        alias="CASEWORK_ACCESS_TOKEN_MAX_LIFETIME",
        description="The longest a personal access token may be made to last.",
    )
    totp_required_for_admins: bool = Field(
        default=False,
        alias="CASEWORK_TOTP_REQUIRED_FOR_ADMINS",
        description=(
            "Admins must sign in with a TOTP code; one without TOTP gets a session that may "
            "only enrol it. Set it in production."
        ),
    )
    totp_issuer: str = Field(
        default="Casework",
        alias="CASEWORK_TOTP_ISSUER",
        min_length=1,
        max_length=60,
        description="The issuer name authenticator apps show for Casework's TOTP entries.",
    )

    @field_validator(
        "sign_in_failure_window",
        "sign_in_lockout",
        "session_idle_timeout",
        "session_absolute_timeout",
        "invitation_lifetime",
        "access_token_max_lifetime",
    )
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be a positive duration")
        return value

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
