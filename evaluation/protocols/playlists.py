"""Playlist continuation on the TidyTuesday playlists (each playlist = one user): every method
ranks the catalog minus a playlist's visible tracks; relevant = its hidden tracks. Run on the
standard split and on the warm-only one (evaluation.splits.warm_only)."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from core.collab.artefact import save
from evaluation.config import (
    COLLAB_WEIGHTS,
    FUSION_ROW,
    KS,
    LYRICS_RATIOS,
    ONLY_AUDIO,
    WIDE_POOL,
    WIDE_WEIGHTS,
    Params,
    lyrics_weights,
    ratio_name,
)
from evaluation.datasets import load_playlists, playlist_catalog, write_kaggle_csv
from evaluation.indexing import LyricsEncoders, indexed
from evaluation.methods.base import Method, Query, TrainData
from evaluation.methods.baselines import (
    CoOccurrenceMethod,
    PopularityMethod,
    RandomMethod,
    SameArtistMethod,
    UnseenFirstMethod,
)
from evaluation.methods.lightfm import LightFMMethod
from evaluation.methods.product import ProductMethod, ProductRecommender, product_recommender
from evaluation.protocols.rmse import rmse_rows
from evaluation.results import Section, measure, progress
from evaluation.splits import Split, playlist_split, warm_only
from indexer.catalog import read_catalog


def playlist_continuation(
    params: Params, encoders: LyricsEncoders, lyrics_by_id: dict[str, str]
) -> tuple[Section, Section, Section, Section]:
    """(standard protocol, warm-only protocol, lyrics subset, RMSE)."""
    tidy, rows = load_playlists(params.shared)
    split, tidy = playlist_split(tidy, rows, params.seed, params.playlists)
    main, subset, calib = run_protocol(params, encoders, split, tidy, lyrics_by_id, extras=True)
    warm_split, warm_tidy = warm_only(split, tidy)
    warm, _, _ = run_protocol(params, encoders, warm_split, warm_tidy, lyrics_by_id, extras=False)
    return main, warm, subset, calib


def user_queries(split: Split) -> list[Query]:
    """One query per evaluated playlist: its visible tracks are the seeds and excluded."""
    return [
        Query(u, tuple(sorted(split.known.get(u, set()))), frozenset(split.known.get(u, set())), u)
        for u in split.users
    ]


def run_protocol(
    params: Params,
    encoders: LyricsEncoders,
    split: Split,
    tidy: pd.DataFrame,
    lyrics_by_id: dict[str, str],
    *,
    extras: bool,
) -> tuple[Section, Section, Section]:
    """Every continuation method on one split and catalog; with `extras`, also the lyrics
    subset and the RMSE, which need only be measured once."""
    label = "playlists" if extras else "playlists (warm only)"
    main, subset, calib = Section(), Section(), Section()
    users = split.users
    relevant = [split.hidden[u] for u in users]
    trained = set(split.train_rows["track_id"])
    main.facts.update(
        playlists=len(users),
        all_playlists=int(tidy["playlist_id"].nunique()),
        catalog=len(split.catalog_ids),
        train_pairs=len(split.train_rows),
        hidden_pairs=sum(len(h) for h in relevant),
        unseen_catalog=sum(t not in trained for t in split.catalog_ids) / len(split.catalog_ids),
        unseen_hidden=sum(t not in trained for h in relevant for t in h) / sum(map(len, relevant)),
    )
    progress(
        f"{label}: {len(users)} evaluated, {len(split.catalog_ids)} catalog tracks, "
        f"{main.facts['hidden_pairs']} hidden pairs"
    )
    queries = user_queries(split)

    with tempfile.TemporaryDirectory() as tmp:
        csv_path = write_kaggle_csv(
            playlist_catalog(tidy, lyrics_by_id), Path(tmp) / "playlists.csv"
        )
        tracks = [t for batch in read_catalog(csv_path, schema="kaggle") for t in batch]
        if any(t.genre is not None for t in tracks):
            raise AssertionError("a playlist genre leaked into the evaluation catalog")
        with_lyrics = {t.id for t in tracks if t.lyrics}
        main.facts["with_lyrics"] = len(with_lyrics)
        by_id = {t.id: t for t in tracks}
        data = TrainData([by_id[t] for t in split.catalog_ids], split.train_rows)
        baselines: list[Method] = [
            RandomMethod(params.seed + 1),
            PopularityMethod(),
            CoOccurrenceMethod(),
            SameArtistMethod(),
        ]
        if len(trained) < len(split.catalog_ids):
            baselines.append(UnseenFirstMethod())
        for ranker in baselines:
            main.rows.append(measure(ranker.fit(data), queries, split.hidden, KS, "baseline"))

        started = time.perf_counter()
        lightfm = LightFMMethod(params.seed, threads=params.threads).fit(data)
        assert lightfm.model is not None
        model = lightfm.model
        main.facts["train_seconds"] = time.perf_counter() - started
        model_dir = Path(tmp) / "models"
        save(model, model_dir)
        progress(f"{label}: LightFM trained in {main.facts['train_seconds']:.0f} s")
        lightfm_row = measure(lightfm, queries, split.hidden, KS, "`CollaborativeModel.recommend`")
        main.rows.append(lightfm_row)
        top10 = [lightfm.rank(q, max(KS))[:10] for q in queries]
        main.facts["unseen_lightfm"] = float(np.mean([t not in trained for r in top10 for t in r]))
        counts = cast("dict[str, int]", split.train_rows.groupby("track_id").size().to_dict())
        if extras:
            calib.rows, calib.facts["pairs"] = rmse_rows(model, split, counts, params.seed)
            calib.facts["playlists"] = len(users)

        with indexed(csv_path, list(encoders), "playlists") as (store, seconds):
            main.facts["index_seconds"] = seconds
            narrow = product_recommender(store, model_dir=model_dir)
            wide = product_recommender(store, model_dir=model_dir, pool=WIDE_POOL)
            methods: list[tuple[str, ProductRecommender, Mapping[Any, float], float]] = [
                ("audio only", narrow, ONLY_AUDIO, 0.0),
                (FUSION_ROW, narrow, {}, 0.0),
            ]
            methods += [(f"hybrid, collab_weight {w:g}", narrow, {}, w) for w in COLLAB_WEIGHTS]
            methods += [
                (f"hybrid, collab_weight {w:g}, pool {WIDE_POOL}", wide, {}, w)
                for w in WIDE_WEIGHTS
            ]
            for name, recommender, weights, collab_weight in methods:
                started = time.perf_counter()
                product = ProductMethod(
                    name, recommender, weights=weights, collab_weight=collab_weight, personal=True
                )
                main.rows.append(measure(product, queries, split.hidden, KS, "Recommender"))
                seconds = time.perf_counter() - started
                main.facts[f"ms/query {name}"] = 1000 * seconds / max(len(users), 1)
                progress(f"{label}: {name} in {seconds:.0f} s")
            if extras:
                subset = lyrics_subset(params, narrow, split, data, with_lyrics)
    return main, subset, calib


def lyrics_subset(
    params: Params,
    recommender: ProductRecommender,
    split: Split,
    data: TrainData,
    with_lyrics: set[str],
) -> Section:
    """Playlist continuation where lyrics can act at all: playlists with a visible track that
    has lyrics (the seeds) and a hidden one that has lyrics (the targets); the lyrics
    modalities can only return tracks that have lyrics, so those are the candidates."""
    users = [
        u
        for u in split.users
        if split.known.get(u, set()) & with_lyrics and split.hidden[u] & with_lyrics
    ]
    section = Section()
    targets = {u: split.hidden[u] & with_lyrics for u in users}
    section.facts.update(
        playlists=len(users),
        catalog=len(with_lyrics),
        seeds=sum(len(split.known[u] & with_lyrics) for u in users),
        targets=sum(len(t) for t in targets.values()),
    )
    if not users:
        return section
    queries = [
        Query(u, tuple(sorted(split.known[u] & with_lyrics)[:50]), frozenset(split.known[u]))
        for u in users
    ]
    pool = TrainData([t for t in data.catalog if t.id in with_lyrics], data.interactions)
    for ranker in (RandomMethod(params.seed + 3), PopularityMethod()):
        row = measure(ranker.fit(pool), queries, targets, KS)
        row.name = f"{ranker.name} (tracks with lyrics)"
        section.rows.append(row)
    for dense, sparse in LYRICS_RATIOS:
        product = ProductMethod(
            ratio_name(dense, sparse), recommender, weights=lyrics_weights(dense, sparse)
        )
        section.rows.append(measure(product, queries, targets, KS, "Recommender"))
    progress(f"playlists: lyrics subset, {len(users)} playlists")
    return section
