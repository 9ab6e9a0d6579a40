"""The single configuration object, read from the environment (and a `.env` file)."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

OIDC_SIGNATURE_ALGORITHMS = (
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
)  # fmt: skip
"""The asymmetric JWS algorithms single sign-on may be configured to accept."""


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
    embedded_pg_port: int = Field(
        default=15432,
        alias="CASEWORK_EMBEDDED_PG_PORT",
        ge=1,
        le=65535,
        description=(
            "Port of the embedded PostgreSQL (when DATABASE_URL is unset); below Linux's "
            "ephemeral range (32768-60999), so no client's connection takes it."
        ),
    )
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
    codec_keys_file: Path | None = Field(
        default=None,
        alias="CASEWORK_CODEC_KEYS_FILE",
        description=(
            "A file holding CASEWORK_CODEC_KEYS (one 'id:base64key' a line; a Docker secret). "
            "Set one of the two."
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
    master_keys_file: Path | None = Field(
        default=None,
        alias="CASEWORK_MASTER_KEYS_FILE",
        description="A file holding CASEWORK_MASTER_KEYS (a Docker secret). Set one of the two.",
    )
    data_key_cache_seconds: float = Field(
        default=60.0,
        ge=0,
        alias="CASEWORK_DATA_KEY_CACHE_SECONDS",
        description=(
            "How long the worker keeps a case's live client data key for sealing appends "
            "(each append still checks, in its own INSERT, that the key is live). "
            "0: look the key up on every append."
        ),
    )
    worker_cached_cases: int = Field(
        default=1_000,
        ge=0,
        le=1_000_000,
        alias="CASEWORK_WORKER_CACHED_CASES",
        description=(
            "Cases a worker keeps in memory (Temporal's max_cached_workflows, about "
            "0.3 MiB each); a case beyond it is rebuilt from its history at its next "
            "command or timer. 0: none kept."
        ),
    )
    database_start_wait_seconds: float = Field(
        default=60.0,
        ge=0,
        le=3600,
        alias="CASEWORK_DATABASE_START_WAIT_SECONDS",
        description=(
            "How long a service (the worker, the API) waits at start-up for a database "
            "that is down, starting or restarting before it exits. 0: exit at once."
        ),
    )

    # --- signed webhooks (issue 34, docs/providers.md) -----------------------------------
    webhook_tolerance: float = Field(
        default=300.0,
        alias="CASEWORK_WEBHOOK_TOLERANCE",
        ge=1,
        le=3600,
        description=(
            "Seconds a signed provider reply's webhook-timestamp may be from our clock; "
            "older or newer is refused."
        ),
    )
    notify_webhook_secret: SecretStr | None = Field(
        default=None,
        alias="CASEWORK_NOTIFY_WEBHOOK_SECRET",
        description=(
            "The agency's Standard Webhooks secret ('whsec_' + base64): when set, staff "
            "notification webhooks are signed with it. Unset: sent unsigned."
        ),
    )

    @field_validator("notify_webhook_secret")
    @classmethod
    def _whsec(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("whsec_"):
            raise ValueError("must be a Standard Webhooks secret starting with whsec_")
        return value

    # --- the community's service directory (issue 34, docs/providers.md) ----------------
    hsds_max_bytes: int = Field(
        default=100_000_000,
        alias="CASEWORK_HSDS_MAX_BYTES",
        ge=1_000,
        le=2_000_000_000,
        description=(
            "The largest HSDS package `casework directory import` sends and the API accepts "
            "(bytes); a zipped CSV package may unpack to four times as much."
        ),
    )
    public_url: str | None = Field(
        default=None,
        alias="CASEWORK_PUBLIC_URL",
        description=(
            "Casework's address as people and providers reach it (https://casework.example.org): "
            "the base of each provider's portal inbox. Unset: the API's address."
        ),
    )

    # --- tamper evidence: the notary and its signed checkpoints (issue 17) ----------
    notary_database_url: str | None = Field(
        default=None,
        alias="CASEWORK_NOTARY_DATABASE_URL",
        description=(
            "DSN of the notary's login (a member of role casework_notary: SELECT on the event "
            "log, INSERT into the Merkle tree tables only). Defaults to DATABASE_URL."
        ),
    )
    notary_key_file: Path | None = Field(
        default=None,
        alias="CASEWORK_NOTARY_KEY_FILE",
        description=(
            "The Ed25519 private key (PEM) that signs checkpoints; a file of the notary's "
            "host, never in the database. Unset: <data dir>/keys/notary.key, made once."
        ),
    )
    notary_public_keys: Path | None = Field(
        default=None,
        alias="CASEWORK_NOTARY_PUBLIC_KEYS",
        description=(
            "The trusted checkpoint keys, one '<key id> <base64 public key>' a line; keep "
            "retired keys here after a rotation. Unset: <data dir>/keys/notary.pub."
        ),
    )
    checkpoint_dir: Path | None = Field(
        default=None,
        alias="CASEWORK_CHECKPOINT_DIR",
        description=(
            "The directory the notary publishes signed checkpoints to (one file each, never "
            "rewritten); copy it off the host. Unset: <data dir>/checkpoints."
        ),
    )
    checkpoint_interval: timedelta = Field(
        default=timedelta(minutes=1),
        alias="CASEWORK_CHECKPOINT_INTERVAL",
        description="How often the notary publishes a checkpoint when the log grew.",
    )
    notary_log_id: str = Field(
        default="casework",
        alias="CASEWORK_NOTARY_LOG_ID",
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9._:/-]+$",
        description="The log's name in every checkpoint (one per deployment of an agency).",
    )
    origin_keys: SecretStr | None = Field(
        default=None,
        alias="CASEWORK_ORIGIN_KEYS",
        description=(
            "Origin keys the engine signs every event with (HMAC-SHA256; never in the "
            "database), 'id1:base64key,id2:base64key' (32-byte keys; the first signs, all "
            "verify). Unset: a development key generated once in <data dir>/keys/origin.keys."
        ),
    )
    origin_keys_file: Path | None = Field(
        default=None,
        alias="CASEWORK_ORIGIN_KEYS_FILE",
        description="A file holding CASEWORK_ORIGIN_KEYS (a Docker secret). Set one of the two.",
    )

    codec_allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        alias="CASEWORK_CODEC_ALLOWED_ORIGINS",
        description=(
            "Browser origins (the Temporal UI's, e.g. https://temporal.example.org) the codec "
            "server answers CORS for, comma-separated. Empty: none (the CLI needs no CORS)."
        ),
    )

    @field_validator("codec_allowed_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list | tuple):
            return [browser_origin(str(item)) for item in value]
        return value

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

    # --- documents on a case (application/documents/) -------------------------------
    document_max_bytes: int = Field(
        default=20_000_000,
        alias="CASEWORK_DOCUMENT_MAX_BYTES",
        ge=1,
        le=1024 * 1024 * 1024,
        description="The largest document a case keeps, in bytes (default 20 MB).",
    )
    report_max_months: int = Field(
        default=36,
        alias="CASEWORK_REPORT_MAX_MONTHS",
        ge=1,
        le=600,
        description="The most months one KPI report may span (default 36).",
    )

    # --- exports of a list as a file (application/exports.py) ----------------------
    export_max_rows: int = Field(
        default=1_000_000,
        alias="CASEWORK_EXPORT_MAX_ROWS",
        ge=1,
        le=100_000_000,
        description=(
            "The most rows one export of a list (CSV or XLSX) holds; a longer list is cut "
            "there, the file ending with a line that says so (docs/limits.md)."
        ),
    )

    # --- the command line as a client of the API (casework login) ------------------
    api_url: str | None = Field(
        default=None,
        alias="CASEWORK_API_URL",
        description=(
            "The API the `casework` staff commands talk to. Unset: "
            "http://<CASEWORK_HTTP_HOST>:<CASEWORK_HTTP_PORT>."
        ),
    )
    api_token: SecretStr | None = Field(
        default=None,
        alias="CASEWORK_TOKEN",
        description=(
            "A personal access token for scripts (`casework token create`); it wins over "
            "the session `casework login` keeps."
        ),
    )
    config_dir: Path | None = Field(
        default=None,
        alias="CASEWORK_CONFIG_DIR",
        description=(
            "Where `casework login` keeps its session (mode 0600). Unset: "
            "$XDG_CONFIG_HOME/casework, else ~/.config/casework."
        ),
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

    # --- single sign-on (OpenID Connect) ---------------------------------------------
    # Unset issuer: single sign-on is off. See "Single sign-on" in docs/security.md.
    oidc_issuer: str | None = Field(
        default=None,
        alias="CASEWORK_OIDC_ISSUER",
        description=(
            "The OpenID Connect provider's issuer URL (its discovery document is "
            "<issuer>/.well-known/openid-configuration). Unset: single sign-on is off."
        ),
    )
    oidc_client_id: str | None = Field(
        default=None,
        alias="CASEWORK_OIDC_CLIENT_ID",
        description="Casework's client id at the provider (the audience of its ID tokens).",
    )
    oidc_client_secret: SecretStr | None = Field(
        default=None,
        alias="CASEWORK_OIDC_CLIENT_SECRET",
        description="The staff console's client secret (a confidential client); unset: public.",
    )
    oidc_cli_client_id: str | None = Field(
        default=None,
        alias="CASEWORK_OIDC_CLI_CLIENT_ID",
        description=(
            "The public client `casework login --sso` uses (device flow); ID tokens issued "
            "to it are accepted too. Unset: only the client id."
        ),
    )
    oidc_audience: str | None = Field(
        default=None,
        alias="CASEWORK_OIDC_AUDIENCE",
        description="The `aud` that API bearer tokens must carry. Unset: the client id.",
    )
    oidc_staff_id_claim: str = Field(
        default="sub",
        alias="CASEWORK_OIDC_STAFF_ID_CLAIM",
        min_length=1,
        max_length=100,
        description="The token claim whose value is the Casework staff id.",
    )
    oidc_email_fallback: bool = Field(
        default=False,
        alias="CASEWORK_OIDC_EMAIL_FALLBACK",
        description=(
            "When the staff id claim names nobody in the staff directory, take the token's "
            "`email` as the staff id (only if the provider does not say it is unverified)."
        ),
    )
    oidc_algorithms: Annotated[tuple[str, ...], NoDecode] = Field(
        default=("RS256", "ES256", "PS256"),
        alias="CASEWORK_OIDC_ALGORITHMS",
        description="Signature algorithms accepted, comma-separated (never `none` or HS*).",
    )
    oidc_clock_skew: timedelta = Field(
        default=timedelta(seconds=60),
        alias="CASEWORK_OIDC_CLOCK_SKEW",
        description="Tolerance on a token's `exp`, `nbf` and `iat` (at most 10 minutes).",
    )
    oidc_jwks_refetch_floor: timedelta = Field(
        default=timedelta(seconds=60),
        alias="CASEWORK_OIDC_JWKS_REFETCH_FLOOR",
        description="An unknown `kid` refetches the provider's keys at most this often.",
    )
    oidc_provider_name: str = Field(
        default="your agency's sign-in",
        alias="CASEWORK_OIDC_PROVIDER_NAME",
        min_length=1,
        max_length=60,
        description="The provider's name on the console's button: \"Sign in with <name>\".",
    )

    # --- tracing (OpenTelemetry) ---
    # Unset endpoint: tracing is off (no spans made, nothing sent). See docs/tracing.md.
    otlp_endpoint: str | None = Field(
        default=None,
        alias="OTEL_EXPORTER_OTLP_ENDPOINT",
        description=(
            "The OTLP/HTTP collector traces are sent to, e.g. http://127.0.0.1:4318 (spans "
            "go to <endpoint>/v1/traces). Unset: tracing is off."
        ),
    )
    otel_service_name: str = Field(
        default="casework",
        alias="OTEL_SERVICE_NAME",
        min_length=1,
        max_length=100,
        description="The `service.name` of this process's spans.",
    )

    # --- virus scanning of uploaded documents (ClamAV's clamd) ---
    # Unset: uploads are not scanned. See infrastructure/virus_scan.py.
    clamd_address: str | None = Field(
        default=None,
        alias="CASEWORK_CLAMD_ADDRESS",
        description=(
            "Where clamd listens, to scan every uploaded document: unix:/path/to/clamd.ctl, "
            "tcp:host:port or host:port. An infected upload is refused, and so is every "
            "upload while clamd does not answer. Unset: uploads are not scanned."
        ),
    )

    @field_validator("clamd_address")
    @classmethod
    def _clamd_address(cls, value: str | None) -> str | None:
        # Its format is checked by infrastructure/virus_scan.py `scanner_for` (importing
        # it here would make an import cycle: virus_scan -> logs -> settings).
        if value is None or not value.strip():
            return None
        return value.strip()

    @field_validator("otlp_endpoint")
    @classmethod
    def _otlp_endpoint(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            url = urlsplit(value.strip())
            url.port  # noqa: B018 - raises ValueError on a malformed port
        except ValueError:
            raise ValueError("malformed host or port") from None
        if url.scheme not in ("http", "https") or not url.hostname or url.query or url.fragment:
            raise ValueError(
                "must be the http:// or https:// URL of an OTLP/HTTP collector, such as "
                "http://127.0.0.1:4318"
            )
        return value.strip().rstrip("/")

    @field_validator("oidc_algorithms", mode="before")
    @classmethod
    def _algorithm_list(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(a.strip() for a in value.split(",") if a.strip())
        return value

    @field_validator("oidc_algorithms")
    @classmethod
    def _asymmetric_only(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("name at least one signature algorithm")
        for alg in value:
            if alg.lower() == "none" or alg.upper().startswith("HS"):
                raise ValueError(
                    f"{alg!r} is refused: tokens must be signed with the provider's private "
                    "key (`none` is no signature; an HMAC key would be public)"
                )
            if alg not in OIDC_SIGNATURE_ALGORITHMS:
                raise ValueError(
                    f"{alg!r} is not a supported signature algorithm; choose from "
                    + ", ".join(OIDC_SIGNATURE_ALGORITHMS)
                )
        return value

    @field_validator("oidc_clock_skew")
    @classmethod
    def _small_skew(cls, value: timedelta) -> timedelta:
        if not timedelta(0) <= value <= timedelta(minutes=10):
            raise ValueError("must be between 0 and 10 minutes")
        return value

    @field_validator("oidc_jwks_refetch_floor")
    @classmethod
    def _floor(cls, value: timedelta) -> timedelta:
        if not timedelta(seconds=1) <= value <= timedelta(hours=24):
            raise ValueError("must be between 1 second and 24 hours")
        return value

    @field_validator("oidc_issuer")
    @classmethod
    def _issuer_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        url = urlsplit(value)
        loopback = url.hostname in ("127.0.0.1", "localhost", "::1")
        if url.scheme != "https" and not (url.scheme == "http" and loopback):
            raise ValueError("must be an https:// URL (http:// only on this machine's loopback)")
        if not url.hostname or url.query or url.fragment:
            raise ValueError("must be a URL with a host and no query or fragment")
        return value

    @model_validator(mode="after")
    def _oidc_needs_a_client(self) -> Settings:
        if self.oidc_issuer is not None and not self.oidc_client_id:
            raise ValueError("CASEWORK_OIDC_CLIENT_ID: required when CASEWORK_OIDC_ISSUER is set")
        return self

    @property
    def oidc_expected_audience(self) -> str | None:
        """The `aud` API bearer tokens must carry (the audience, else the client id)."""
        return self.oidc_audience or self.oidc_client_id

    @field_validator(
        "sign_in_failure_window",
        "sign_in_lockout",
        "session_idle_timeout",
        "session_absolute_timeout",
        "invitation_lifetime",
        "access_token_max_lifetime",
        "checkpoint_interval",
    )
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be a positive duration")
        return value

    @model_validator(mode="after")
    def _role_urls_default_to_database_url(self) -> Settings:
        if self.engine_database_url is None:
            self.engine_database_url = self.database_url
        if self.projector_database_url is None:
            self.projector_database_url = self.database_url
        if self.notary_database_url is None:
            self.notary_database_url = self.database_url
        return self

    @property
    def api_base_url(self) -> str:
        """Where the staff commands find the API."""
        if self.api_url:
            return self.api_url.rstrip("/")
        host = "127.0.0.1" if self.http_host in ("0.0.0.0", "::") else self.http_host
        return f"http://{host}:{self.http_port}"

    @property
    def temporal_host(self) -> str:
        return self.temporal_address.rsplit(":", 1)[0]

    @property
    def temporal_port(self) -> int:
        return int(self.temporal_address.rsplit(":", 1)[1])


def browser_origin(value: str) -> str:
    """A browser origin, `scheme://host[:port]` (http or https, no path); ValueError else."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise ValueError(f"{value!r} is not an origin (malformed host or port)") from None
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        raise ValueError(
            f"{value!r} is not an origin: expected scheme://host[:port], such as "
            "https://temporal.example.org"
        )
    return f"{parts.scheme}://{parts.netloc.lower()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
