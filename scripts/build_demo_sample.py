"""Build the committed demo sample (data/demo/) from the real data in ../shared/data.

The demo must show every modality meeting on the same tracks, so it combines:

* Billboard Hot-100 year-end tracks that have lyrics (billboard_tracks.csv joined to
  billboard_lyrics.csv by year + normalised title/artist, see
  `evaluation.datasets.join_billboard_lyrics`),
  preferring the ones that are also in the TidyTuesday dump (same Spotify id), where lyrics,
  audio, genre and playlists all exist for one track;
* whole TidyTuesday playlists picked at random (seeded) round-robin across the six genres,
  so the playlist-as-user interactions keep their real co-occurrence structure;
* every TidyTuesday track with a real album cover (covers_linked/track_covers.csv, links by
  Spotify album id and by artist + album name alike), so the demo shows real covers: each
  cover is written once per album, shrunk to at most COVER_SIDE px, as data/demo/covers/
  <spotify_album_id>.jpg, and the track's `album_url` names that file relative to the
  catalog. The playlists holding them come in as interactions (every playlist row of a sample
  track is one), not as whole playlists: that would multiply the demo's size.

Genres are playlist-derived: a TidyTuesday track's genre is the most common `playlist_genre`
over all its playlist rows (ties broken alphabetically). It describes playlists, not the
track's sound; an evaluation that hides part of a playlist must not use it. Billboard-only
tracks get no genre.

Output is deterministic for a given --seed and input data. Run from the repo root:

    python scripts/build_demo_sample.py --shared ../shared/data --out data/demo --seed 7
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import pandas as pd
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from evaluation.datasets import load_billboard_with_lyrics  # noqa: E402
from schemas.layout import AUDIO_CATALOG_FEATURES  # noqa: E402
from schemas.tracks import KAGGLE_COLUMNS  # noqa: E402

DEMO_COLUMNS = list(KAGGLE_COLUMNS)
# Covers are committed small: the encoders see 224 px crops, the page shows thumbnails.
COVER_SIDE = 128
COVER_QUALITY = 85
COVERS_DIR = "covers"  # next to tracks.csv: MUSICREC_COVER_LOCAL_DIR's default


def linked_covers(shared: Path) -> pd.DataFrame:
    """TidyTuesday track id -> Spotify album id of its real cover (one album per track)."""
    links = pd.read_csv(shared / "covers_linked" / "track_covers.csv")
    links = links.loc[links["catalog"] == "tidytuesday", ["track_id", "album_id", "match"]]
    return links.drop_duplicates("track_id").set_index("track_id")


def write_covers(shared: Path, album_ids: list[str], out: Path) -> int:
    """Each album's cover once, at most COVER_SIDE px, baseline JPEG; returns bytes written.
    Files of albums no longer linked are removed, so the directory is exactly the sample's."""
    out.mkdir(parents=True, exist_ok=True)
    wanted = {f"{album}.jpg" for album in album_ids}
    for stale in out.glob("*.jpg"):
        if stale.name not in wanted:
            stale.unlink()
    written = 0
    for album in sorted(set(album_ids)):
        with Image.open(shared / "covers_linked" / "images" / f"{album}.jpg") as image:
            small = image.convert("RGB")
            small.thumbnail((COVER_SIDE, COVER_SIDE), Image.Resampling.LANCZOS)
            target = out / f"{album}.jpg"
            small.save(target, "JPEG", quality=COVER_QUALITY)
            written += target.stat().st_size
    return written


def playlist_genre_by_track(tidy: pd.DataFrame) -> pd.Series:
    """Most common playlist genre per track (ties alphabetical): playlist-derived, see above."""
    counts = tidy.groupby(["track_id", "playlist_genre"]).size().rename("n").reset_index()
    counts = counts.sort_values(["track_id", "n", "playlist_genre"], ascending=[True, False, True])
    return counts.drop_duplicates("track_id").set_index("track_id")["playlist_genre"]


def pick_playlists(tidy: pd.DataFrame, target_tracks: int, rng: random.Random) -> list[str]:
    """Whole playlists, round-robin over genres, until `target_tracks` distinct tracks."""
    by_genre: dict[str, list[str]] = {}
    first_genre = tidy.drop_duplicates("playlist_id").sort_values("playlist_id")
    for pid, genre in zip(first_genre["playlist_id"], first_genre["playlist_genre"], strict=True):
        by_genre.setdefault(genre, []).append(pid)
    for ids in by_genre.values():
        rng.shuffle(ids)
    members = tidy.groupby("playlist_id")["track_id"].apply(set)
    chosen: list[str] = []
    tracks: set[str] = set()
    genres = sorted(by_genre)
    while len(tracks) < target_tracks and any(by_genre.values()):
        for genre in genres:
            if by_genre[genre] and len(tracks) < target_tracks:
                pid = by_genre[genre].pop()
                chosen.append(pid)
                tracks |= members[pid]
    return chosen


def _bool_text(value: object) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    return "True" if bool(value) else "False"


def build_sample(
    shared: Path, seed: int, billboard_target: int = 1000, tidy_target: int = 2000
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """(tracks in the Kaggle schema, playlist-as-user interactions, the whole playlists drawn)."""
    rng = random.Random(seed)
    tidy = pd.read_csv(shared / "tidytuesday_spotify_songs.csv")
    tidy = tidy.sort_values(["playlist_id", "track_id"], kind="stable")
    billboard = load_billboard_with_lyrics(shared)
    # One chart entry per Spotify id: the earliest year (a re-entry is the same recording).
    billboard = billboard.sort_values(["track_id", "year"]).drop_duplicates("track_id")
    tidy_ids = set(tidy["track_id"])

    in_both = sorted(set(billboard["track_id"]) & tidy_ids)
    only_bb = sorted(set(billboard["track_id"]) - tidy_ids)
    rng.shuffle(only_bb)
    bb_ids = set(in_both[:billboard_target]) | set(
        only_bb[: max(0, billboard_target - len(in_both))]
    )

    playlists = pick_playlists(tidy, tidy_target, rng)
    playlist_ids = set(tidy.loc[tidy["playlist_id"].isin(playlists), "track_id"])
    covers = linked_covers(shared)
    sample_ids = bb_ids | playlist_ids | (set(covers.index) & tidy_ids)

    genre = playlist_genre_by_track(tidy)
    tidy_first = tidy.drop_duplicates("track_id").set_index("track_id")
    bb_by_id = billboard.set_index("track_id")

    rows = []
    for track_id in sorted(sample_ids):
        bb = bb_by_id.loc[track_id] if track_id in bb_by_id.index else None
        if track_id in tidy_first.index:
            t = tidy_first.loc[track_id]
            release = str(t["track_album_release_date"])
            row = {
                "id": track_id,
                "name": t["track_name"] if pd.notna(t["track_name"]) else "",
                "album_name": t["track_album_name"] if pd.notna(t["track_album_name"]) else "",
                "artists": str([t["track_artist"]]) if pd.notna(t["track_artist"]) else "[]",
                **{f: t[f] for f in AUDIO_CATALOG_FEATURES},
                "popularity": int(t["track_popularity"]),
                # The chart year beats the album date, which is often a later reissue.
                "year": int(bb["year"]) if bb is not None else int(release[:4]),
                "genre": genre[track_id],
                "explicit": _bool_text(bb["explicit"]) if bb is not None else "",
                "release_date": release,
            }
        else:
            assert bb is not None
            row = {
                "id": track_id,
                "name": bb["track_name"],
                "album_name": "",
                "artists": str([bb["artist_name"]]),
                **{f: bb[f] for f in AUDIO_CATALOG_FEATURES},
                "popularity": None,
                "year": int(bb["year"]),
                "genre": "",
                "explicit": _bool_text(bb["explicit"]),
                "release_date": "",
            }
        row["lyrics"] = bb["lyrics"] if bb is not None else ""
        if track_id in covers.index:
            row["album_url"] = f"{COVERS_DIR}/{covers.loc[track_id, 'album_id']}.jpg"
        row["key"] = int(row["key"])
        row["mode"] = int(row["mode"])
        row["duration_ms"] = int(row["duration_ms"])
        rows.append(row)
    tracks = pd.DataFrame(rows, columns=DEMO_COLUMNS)
    tracks["popularity"] = tracks["popularity"].astype("Int64")

    inter = tidy.loc[tidy["track_id"].isin(sample_ids), ["playlist_id", "track_id"]]
    inter = inter.drop_duplicates().sort_values(["playlist_id", "track_id"])
    interactions = pd.DataFrame(
        {"user_id": inter["playlist_id"], "track_id": inter["track_id"], "weight": 1}
    )
    return tracks, interactions.reset_index(drop=True), playlists


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO_ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "data" / "demo")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--billboard-tracks", type=int, default=1000)
    parser.add_argument("--tidy-tracks", type=int, default=2000)
    args = parser.parse_args(argv)

    tracks, interactions, playlists = build_sample(
        args.shared, args.seed, args.billboard_tracks, args.tidy_tracks
    )
    args.out.mkdir(parents=True, exist_ok=True)
    tracks_path = args.out / "tracks.csv"
    inter_path = args.out / "interactions.csv"
    tracks.to_csv(tracks_path, index=False, lineterminator="\n")
    interactions.to_csv(inter_path, index=False, lineterminator="\n")
    covered = tracks.loc[tracks["album_url"].notna(), ["id", "album_url"]]
    albums = sorted(set(covered["album_url"].str.removeprefix(f"{COVERS_DIR}/").str[:-4]))
    cover_bytes = write_covers(args.shared, albums, args.out / COVERS_DIR)
    match = linked_covers(args.shared).loc[covered["id"], "match"].value_counts()

    with_lyrics = int((tracks["lyrics"].fillna("").str.strip() != "").sum())
    size = sum(p.stat().st_size for p in args.out.iterdir() if p.is_file())
    print(
        f"tracks {len(tracks)}, with lyrics {with_lyrics}, "
        f"with audio {int(tracks['danceability'].notna().sum())}, "
        f"with genre {int((tracks['genre'].fillna('') != '').sum())}, "
        f"whole playlists drawn {len(playlists)}, "
        f"users (playlists touching the sample) {interactions['user_id'].nunique()}, "
        f"interactions {len(interactions)}, "
        f"with a cover {len(covered)} ({', '.join(f'{n} by {m}' for m, n in match.items())}), "
        f"albums {len(albums)}, "
        f"playlists holding a covered track "
        f"{interactions.loc[interactions['track_id'].isin(covered['id']), 'user_id'].nunique()}, "
        f"bytes in {args.out} {size} + covers {cover_bytes}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
