"""The real evaluation data (../shared/data, see its README): TidyTuesday playlists, Billboard
lyrics and Discogs covers, loaded once here so every protocol reads them the same way.

The Billboard join (normalised title + lead artist) also builds the demo sample
(scripts/build_demo_sample.py imports it from here). `playlist_genre` never reaches a catalog
built here: it describes the playlist being evaluated (the data README's leakage trap).
"""

from __future__ import annotations

import csv
import re
import unicodedata
from pathlib import Path

import pandas as pd

from core.interactions.files import tidytuesday_interactions
from schemas.layout import AUDIO_CATALOG_FEATURES
from schemas.tracks import KAGGLE_COLUMNS, Track

TIDYTUESDAY = "tidytuesday_spotify_songs.csv"

_FEATURING = re.compile(r"\s+(?:featuring|feat\.?|ft\.?|with)\s+.*$")
_VERSION_SUFFIX = re.compile(r"\s+-\s+.*$")
_BRACKETED = re.compile(r"\s*[\(\[].*?[\)\]]")
_ARTIST_SPLIT = re.compile(r"\s+(?:featuring|feat\.?|ft\.?|with|and|x|&|duet with)\s+|,|/")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


# --- TidyTuesday playlists ---------------------------------------------------------------
def load_playlists(shared: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(raw rows of the file, one (user_id = playlist, track_id) row per membership)."""
    path = shared / TIDYTUESDAY
    if not path.is_file():
        raise FileNotFoundError(f"no {TIDYTUESDAY} under {shared}")
    tidy = pd.read_csv(path, dtype={"track_id": str})
    return tidy, tidytuesday_interactions(path)


def playlist_catalog(tidy: pd.DataFrame, lyrics_by_id: dict[str, str]) -> pd.DataFrame:
    """Every TidyTuesday track once, with billboard lyrics where the Spotify id matches.

    `playlist_genre` is left out on purpose (the leakage trap): it describes the playlist
    being evaluated, so no method here ever sees a genre.
    """
    first = tidy.drop_duplicates("track_id").sort_values("track_id", kind="stable")
    return pd.DataFrame(
        {
            "id": first["track_id"],
            "name": first["track_name"].fillna(""),
            "album_name": first["track_album_name"],
            "artists": first["track_artist"],
            **{f: first[f] for f in AUDIO_CATALOG_FEATURES},
            "popularity": first["track_popularity"],
            "release_date": first["track_album_release_date"],
            "lyrics": first["track_id"].map(lyrics_by_id),
        }
    )


def write_kaggle_csv(frame: pd.DataFrame, path: Path) -> Path:
    """The Kaggle schema is the one with a lyrics column, so both catalogs are written in it."""
    out = frame.reindex(columns=KAGGLE_COLUMNS)
    for column in ("key", "mode", "duration_ms", "popularity", "year"):
        out[column] = out[column].astype("Int64")
    out.to_csv(path, index=False)
    return path


# --- Billboard lyrics --------------------------------------------------------------------
def _fold(text: str) -> str:
    """Lowercase without accents, so 'Céline' in one file meets 'Celine' in the other."""
    text = unicodedata.normalize("NFKD", str(text))
    return "".join(c for c in text if not unicodedata.combining(c)).lower().strip()


def normalise_title(title: str) -> str:
    """Spotify titles carry edition noise (' - Single Version', '(feat. X)'); chart titles don't."""
    text = _fold(title)
    text = _VERSION_SUFFIX.sub("", text)
    text = _BRACKETED.sub("", text)
    text = _FEATURING.sub("", text)
    text = text.replace("&", " and ")
    return _NON_ALNUM.sub(" ", text).strip()


def normalise_artist(artist: str) -> str:
    """The lead artist only: credits differ most in who is 'featuring' or 'and his orchestra'."""
    text = _BRACKETED.sub("", _fold(artist))
    text = _ARTIST_SPLIT.split(text)[0]
    text = re.sub(r"^the\s+", "", text)
    return _NON_ALNUM.sub(" ", text).strip()


def join_billboard_lyrics(tracks: pd.DataFrame, lyrics: pd.DataFrame) -> pd.DataFrame:
    """Billboard track rows (Spotify ids, audio) with the lyrics of the same chart entry.

    Matches on (year, normalised title, normalised lead artist); entries still unmatched are
    matched on (year, normalised title) when that pair is unique on both sides, which catches
    credit variants such as 'Hall & Oates' vs 'Daryl Hall & John Oates'. Only non-empty lyrics
    are kept; the result has the columns of `tracks` plus `lyrics`, one row per matched
    billboard row (a song charting in two years keeps both rows).
    """
    bb = tracks.copy()
    ly = lyrics.loc[lyrics["lyrics"].fillna("").str.strip() != ""].copy()
    bb["_row"] = range(len(bb))
    bb["_title"] = bb["track_name"].map(normalise_title)
    bb["_artist"] = bb["artist_name"].map(normalise_artist)
    ly["_title"] = ly["title"].map(normalise_title)
    ly["_artist"] = ly["artist"].map(normalise_artist)
    ly = ly.drop_duplicates(["year", "_title", "_artist"])

    exact = bb.merge(ly[["year", "_title", "_artist", "lyrics"]], on=["year", "_title", "_artist"])
    rest_bb = bb.loc[~bb["_row"].isin(exact["_row"])]
    used = set(zip(exact["year"], exact["_title"], exact["_artist"], strict=True))
    rest_ly = ly.loc[
        [
            (y, t, a) not in used
            for y, t, a in zip(ly["year"], ly["_title"], ly["_artist"], strict=True)
        ]
    ]
    unique_bb = rest_bb.drop_duplicates(["year", "_title"], keep=False)
    unique_ly = rest_ly.drop_duplicates(["year", "_title"], keep=False)
    loose = unique_bb.merge(unique_ly[["year", "_title", "lyrics"]], on=["year", "_title"])
    joined = pd.concat([exact, loose], ignore_index=True).sort_values("_row")
    return joined.drop(columns=["_row", "_title", "_artist"]).reset_index(drop=True)


def load_billboard_with_lyrics(shared: Path) -> pd.DataFrame:
    return join_billboard_lyrics(
        pd.read_csv(shared / "billboard_tracks.csv"),
        pd.read_csv(shared / "billboard_lyrics.csv"),
    )


def billboard_songs(shared: Path) -> pd.DataFrame:
    """Billboard songs with lyrics and a Spotify id, one row per song.

    A song charting in two years, or listed under two ids, is kept once (same id, same lyrics
    or same normalised title and lead artist): a duplicate would be found trivially by its
    own lyrics and inflate every same-artist number.
    """
    bb = load_billboard_with_lyrics(shared).sort_values(["year", "track_id"], kind="stable")
    bb["artist_key"] = bb["artist_name"].map(normalise_artist)
    bb["title_key"] = bb["track_name"].map(normalise_title)
    bb["lyrics"] = bb["lyrics"].str.strip()
    bb = bb.drop_duplicates("track_id").drop_duplicates("lyrics")
    return bb.drop_duplicates(["title_key", "artist_key"]).reset_index(drop=True)


def billboard_catalog(songs: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": songs["track_id"],
            "name": songs["track_name"],
            "artists": songs["artist_name"],
            **{f: songs[f] for f in AUDIO_CATALOG_FEATURES},
            "year": songs["year"],
            "explicit": songs["explicit"].map({True: "true", False: "false"}),
            "lyrics": songs["lyrics"],
        }
    )


def song_tracks(songs: pd.DataFrame) -> list[Track]:
    """The songs as Tracks with their exact lyrics text, for rankers fitted on the catalog."""
    return [
        Track(id=t, name=n, artists=[a], lyrics=lyr)
        for t, n, a, lyr in zip(
            songs["track_id"],
            songs["track_name"],
            songs["artist_name"],
            songs["lyrics"],
            strict=True,
        )
    ]


# --- covers ------------------------------------------------------------------------------
def load_covers(root: Path) -> tuple[list[str], list[str]]:
    """(file names, genres) of covers.csv, in file order."""
    with (root / "covers.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [row["file"] for row in rows], [row["genre"] for row in rows]
