"""The one settings object of musicrec, composed of one section per part of the system.

Every knob comes from here (env vars prefixed ``MUSICREC_`` or a ``.env`` file) and is passed
into constructors; nothing else reads ``os.environ``. Each section (store, encoders, Spotify,
collaborative model, recommendation, database, API) is its own small class in its own module;
`Settings` inherits them all, so a variable keeps its name (``MUSICREC_QDRANT_URL``) and is
read as ``settings.qdrant_url``. Paths derived from ``data_dir`` are filled in here.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, ValidationError, model_validator

from schemas.settings.api import MIN_API_KEY_LENGTH, ApiSettings
from schemas.settings.cf import CFSettings
from schemas.settings.collaborative import CollaborativeSettings
from schemas.settings.database import DatabaseSettings
from schemas.settings.encoders import EncoderSettings, LyricsRuntime
from schemas.settings.jobs import JobSettings
from schemas.settings.recommend import RecommendSettings
from schemas.settings.section import ENV_PREFIX
from schemas.settings.spotify import SpotifySettings
from schemas.settings.store import StoreSettings

__all__ = [
    "ENV_PREFIX",
    "MIN_API_KEY_LENGTH",
    "SECRETS",
    "LyricsRuntime",
    "Settings",
    "SettingsError",
    "env_name",
    "load_settings",
]


class SettingsError(SystemExit):
    """Raised at start-up with a message naming the offending variable(s)."""


class Settings(
    StoreSettings,
    EncoderSettings,
    SpotifySettings,
    CollaborativeSettings,
    CFSettings,
    RecommendSettings,
    DatabaseSettings,
    JobSettings,
    ApiSettings,
):
    data_dir: Path = Field(Path("data"), description="Root for the embedded store and caches.")

    @model_validator(mode="after")
    def _derive_paths(self) -> Settings:
        if self.qdrant_path is None:
            self.qdrant_path = self.data_dir / "qdrant"
        if self.model_dir is None:
            self.model_dir = self.data_dir / "models"
        if self.snapshot_dir is None:
            self.snapshot_dir = self.data_dir / "snapshots"
        if self.interactions_path is None:
            self.interactions_path = self.data_dir / "interactions.csv"
        if self.import_dir is None:
            self.import_dir = self.data_dir / "import"
        if self.database_url is None:
            self.database_url = f"sqlite:///{(self.data_dir / 'musicrec.db').as_posix()}"
        return self


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
        return Settings(**overrides)  # type: ignore[arg-type]  # pydantic validates each value
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            if not err["loc"]:  # a rule between several variables names them itself
                lines.append(f"  {err['msg'].removeprefix('Value error, ')}")
                continue
            field = str(err["loc"][0])
            # A secret is never echoed back, even a rejected one.
            value = "'***'" if field in SECRETS else repr(err.get("input"))
            lines.append(f"  {env_name(field)}={value}: {err['msg']}")
        raise SettingsError("invalid musicrec settings:\n" + "\n".join(lines)) from None
