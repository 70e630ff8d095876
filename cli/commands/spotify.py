"""`musicrec enrich` and `musicrec spotify-fetch`: Spotify metadata into catalog CSVs."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from core.spotify import CREDENTIALS_HINT, SpotifyError, build_spotify_client

if TYPE_CHECKING:  # the `spotify` extra, loaded by build_spotify_client
    from core.spotify.client import SpotifyClient
from schemas.settings import load_settings


def enrich(
    catalog: Annotated[Path, typer.Argument(help="Kaggle-schema catalog CSV")],
    out: Annotated[Path, typer.Option(help="enriched catalog (may be CATALOG)")],
) -> int:
    """Fill empty album_url, popularity, album_name, release_date/year and explicit cells of a
    Kaggle-schema catalog from the Spotify Web API."""
    from indexer.enrich import enrich_catalog

    return _with_client(lambda client: enrich_catalog(catalog, out, client).summary())


def spotify_fetch(
    out: Annotated[Path, typer.Option(help="catalog CSV to write")],
    tracks: Annotated[list[str] | None, typer.Option(help="a Spotify track id; repeat")] = None,
    playlist: Annotated[str | None, typer.Option(help="a playlist id, URI or URL")] = None,
    search: Annotated[str | None, typer.Option(help="a Spotify search query")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="search results to keep")] = 50,
) -> int:
    """Write a catalog CSV of new tracks (metadata only: no audio features, no lyrics)."""
    from indexer.enrich import fetch_new_tracks

    if sum(x is not None for x in (tracks, playlist, search)) != 1:
        raise typer.BadParameter("give exactly one of --tracks, --playlist, --search")
    return _with_client(
        lambda client: fetch_new_tracks(
            client,
            track_ids=tracks or (),
            playlist_id=playlist,
            query=search,
            limit=limit,
            out_path=out,
        ).summary()
    )


def _with_client(work: Callable[[SpotifyClient], str]) -> int:
    settings = load_settings()
    client = build_spotify_client(settings) if settings.spotify_enabled else None
    if client is None:
        print(f"error: Spotify is not configured: {CREDENTIALS_HINT}", file=sys.stderr)
        return 2
    # spotipy logs every HTTP error at ERROR, even the 429s and 5xx our client retries.
    logging.getLogger("spotipy").setLevel(logging.CRITICAL)
    try:
        print(work(client))
    except SpotifyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
