"""Lyrics representations by same-artist retrieval on the Billboard lyrics: each song by an
artist with at least two songs queries the catalog; relevant = the artist's other songs."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from evaluation.config import DEFAULTS_ROW, LYRICS_RATIOS, Params, lyrics_weights, ratio_name
from evaluation.datasets import (
    billboard_catalog,
    billboard_songs,
    load_billboard_with_lyrics,
    song_tracks,
    write_kaggle_csv,
)
from evaluation.indexing import LyricsEncoders, indexed
from evaluation.methods.base import Method, Query, TrainData
from evaluation.methods.baselines import RandomMethod
from evaluation.methods.product import ProductMethod, product_recommender
from evaluation.methods.text import TfidfMethod, Word2VecMethod
from evaluation.results import Section, measure, progress

KS_LYRICS = (10,)


def same_artist(params: Params, encoders: LyricsEncoders) -> Section:
    songs = billboard_songs(params.shared)
    raw_rows = load_billboard_with_lyrics(params.shared)
    if params.songs is not None:
        # Whole artists drawn until the budget is met, so relevance sets stay intact.
        rng = np.random.default_rng(params.seed)
        artists = rng.permutation(sorted(songs["artist_key"].unique()))
        sizes = songs.groupby("artist_key").size()
        keep = artists[np.cumsum(sizes[artists].to_numpy()) <= params.songs]
        songs = songs[songs["artist_key"].isin(set(keep))].reset_index(drop=True)
    sizes = songs.groupby("artist_key")["track_id"].transform("size")
    queries_frame = songs[sizes >= 2].reset_index(drop=True)
    by_artist = songs.groupby("artist_key")["track_id"].agg(set).to_dict()
    relevant = {
        t: by_artist[a] - {t} for t, a in zip(songs["track_id"], songs["artist_key"], strict=True)
    }
    section = Section()
    section.facts.update(
        catalog=len(songs),
        queries=len(queries_frame),
        artists=int(queries_frame["artist_key"].nunique()),
        joined_rows=len(raw_rows),
    )
    progress(
        f"lyrics: {len(songs)} songs, {len(queries_frame)} queries by {section.facts['artists']}"
    )
    queries = [Query(q, (q,), frozenset({q})) for q in queries_frame["track_id"]]
    data = TrainData(song_tracks(songs))

    started = time.perf_counter()
    baselines: list[Method] = [
        RandomMethod(params.seed + 11),
        TfidfMethod(),
        Word2VecMethod(params.seed, epochs=5 if params.quick else 20),
    ]
    for ranker in baselines:
        section.rows.append(measure(ranker.fit(data), queries, relevant, KS_LYRICS))
    progress(f"lyrics: TF-IDF and Word2Vec in {time.perf_counter() - started:.0f} s")

    with tempfile.TemporaryDirectory() as tmp:
        csv_path = write_kaggle_csv(billboard_catalog(songs), Path(tmp) / "billboard.csv")
        with indexed(csv_path, list(encoders), "billboard") as (store, seconds):
            section.facts["index_seconds"] = seconds
            recommender = product_recommender(store)
            configs = [(ratio_name(d, s), lyrics_weights(d, s)) for d, s in LYRICS_RATIOS]
            # The settings' defaults (every modality at 1): what an API caller gets.
            configs.append((DEFAULTS_ROW, {}))
            for name, weights in configs:
                started = time.perf_counter()
                ranker = ProductMethod(name, recommender, weights=weights)
                section.rows.append(measure(ranker, queries, relevant, KS_LYRICS, "Recommender"))
                progress(f"lyrics: {name} in {time.perf_counter() - started:.0f} s")
    return section
