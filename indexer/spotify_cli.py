"""`musicrec enrich` and `musicrec spotify-fetch`: Spotify metadata into catalog CSVs."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from core.spotify.client import CREDENTIALS_HINT, SpotifyClient, SpotifyError, build_spotify_client
from schemas.settings import load_settings


def add_spotify_commands(sub: argparse._SubParsersAction) -> None:
    enrich = sub.add_parser(
        "enrich",
        help="fill empty album_url, popularity, album_name, release_date/year and explicit "
        "cells of a Kaggle-schema catalog from the Spotify Web API",
    )
    enrich.add_argument("catalog", type=Path, help="Kaggle-schema catalog CSV")
    enrich.add_argument("--out", type=Path, required=True, help="enriched catalog (may be CATALOG)")
    enrich.set_defaults(func=cmd_enrich)

    fetch = sub.add_parser(
        "spotify-fetch",
        help="write a catalog CSV of new tracks (metadata only: no audio features, no lyrics)",
    )
    source = fetch.add_mutually_exclusive_group(required=True)
    source.add_argument("--tracks", nargs="+", metavar="ID", help="Spotify track ids")
    source.add_argument("--playlist", metavar="ID", help="a playlist id, URI or URL")
    source.add_argument("--search", metavar="QUERY", help="a Spotify search query")
    fetch.add_argument("--limit", type=int, default=50, help="search results to keep")
    fetch.add_argument("--out", type=Path, required=True, help="catalog CSV to write")
    fetch.set_defaults(func=cmd_spotify_fetch)


def cmd_enrich(args: argparse.Namespace) -> int:
    from indexer.enrich import enrich_catalog

    return _with_client(lambda client: enrich_catalog(args.catalog, args.out, client).summary())


def cmd_spotify_fetch(args: argparse.Namespace) -> int:
    from indexer.enrich import fetch_new_tracks

    return _with_client(
        lambda client: fetch_new_tracks(
            client,
            track_ids=args.tracks or (),
            playlist_id=args.playlist,
            query=args.search,
            limit=args.limit,
            out_path=args.out,
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
