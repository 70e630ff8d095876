"""Training the learned ranker without leakage: features from one part of each user's
interactions, labels from a held-out part.

1. Each user with at least `min_history` tracks has `label_share` of them (seeded) held out:
   those are the labels. Everything else is the feature part.
2. LightFM (`fit_collab`), the interaction matrix (co-occurrence, co-listened artists,
   popularity) and the collaborative models (EASE, iALS, RP3β, UserKNN: `cf_models`) are
   fitted on the feature part ONLY, so no feature of a candidate is computed
   from the interaction that makes it a positive
   (tests/core/recommend/rankers/test_learned.py proves it on a small case).
3. For each such user the product's own pipeline (`Recommender.user_query` + `scored_pool`)
   builds the candidate pool and its feature rows, exactly as at serving time; a candidate is
   relevant when it is one of the user's held-out tracks. Only the relevant candidates and a
   seeded sample of `max_negatives` others are fetched and scored (a row depends on its
   candidate and the query only). Users whose pool holds none of their held-out tracks carry
   no ranking signal and are dropped.
4. LightGBM LambdaRank is fitted with one query per user, early-stopped on NDCG@10 of held-out
   users: k-fold over the users when they are few, else a validation share of them (tuning
   on the training side only, never on evaluation data).

The published artefact pairs that booster with the interaction matrix of ALL interactions
and the collaborative models refitted on it (serving computes co-occurrence, popularity and
the models' scores from everything known), beside the LightFM model trained on all of them by
`musicrec train`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, cast

import lightgbm as lgb
import numpy as np
import pandas as pd

from core.artefacts import Fixed
from core.collab.model import CollaborativeModel
from core.recommend.cf_models import CF_NAMES, CFScores, fit_cf
from core.recommend.cf_tuning import tune_cf
from core.recommend.errors import UnknownUserError, UnsupportedQueryError
from core.recommend.rankers.artefact import RankerArtefact
from core.recommend.rankers.base import feature_matrix
from core.recommend.recommender import Recommender
from core.recommend.user_tracks import UserTrackMatrix
from core.store import VectorStore
from schemas.settings import Settings
from schemas.settings.cf import CFSettings
from schemas.tracks import point_id


@dataclass(frozen=True)
class RankerParams:
    """How the ranker is trained. The first four come from the settings
    (`ranker_params(settings)`); the rest are the training's own constants."""

    label_share: float
    max_users: int  # training queries (a seeded sample above this): bounds training time
    threads: int  # LightGBM threads (settings.ranker_threads)
    seed: int
    min_history: int = 5
    validation_share: float = 0.2
    # Negatives kept per query (a seeded sample; all positives stay): LambdaRank's cost grows
    # with the rows, and a few hundred negatives per query carry most of the ranking signal.
    max_negatives: int = 150
    rounds: int = 500
    early_stopping: int = 50
    # Below this many training users the rounds are chosen by k-fold cross-validation over the
    # users instead of one validation split, whose few queries made the early-stopped rounds
    # vary from run to run (docs/performance.md, "Training the ranker").
    cv_below: int = 1000
    folds: int = 5
    # Measured on 800 held-out label users of the 160k synthetic set (scripts/
    # tune_ranker_training.py; numbers in docs/ranker-training.md): 0.05 and an L2 penalty
    # of 10 gain with 3,000 training users and cost nothing with 1,600.
    learning_rate: float = 0.05
    lambda_l2: float = 10.0
    # Tree size, chosen on the same validation as the rounds (issue 27: the parameters are
    # the validation's choice): (num_leaves, min_data_in_leaf), simplest first; the first
    # wins a tie. One entry: no choice.
    trees: tuple[tuple[int, int], ...] = ((7, 100), (15, 50), (31, 20))


def ranker_params(settings: Settings, **overrides: Any) -> RankerParams:
    """The training parameters the settings give (`overrides`: the training's constants)."""
    return RankerParams(
        label_share=settings.ranker_label_share,
        max_users=settings.ranker_max_users,
        threads=settings.ranker_threads,
        seed=settings.lightfm_seed,
        **overrides,
    )


@dataclass
class TrainingSet:
    x: np.ndarray
    y: np.ndarray
    groups: list[int]  # pool size per user, in order
    users: list[str]
    track_ids: list[str]  # one per row
    features: tuple[str, ...]  # the column names (`FeatureLayout.names`)


def split_interactions(
    pairs: pd.DataFrame, params: RankerParams
) -> tuple[pd.DataFrame, dict[str, set[str]]]:
    """(feature part, held-out tracks per user). Unique (user, track) pairs in, seeded."""
    rng = np.random.default_rng(params.seed)
    pairs = pairs[["user_id", "track_id"]].astype(str).drop_duplicates()
    keep = np.ones(len(pairs), dtype=bool)
    labels: dict[str, set[str]] = {}
    tracks = pairs["track_id"].to_numpy()  # once: a copy per user took minutes at 1M pairs
    for user, rows in pairs.groupby("user_id", sort=True).indices.items():
        if len(rows) < params.min_history:
            continue
        held = rng.choice(rows, size=max(1, round(len(rows) * params.label_share)), replace=False)
        keep[held] = False
        labels[str(user)] = set(tracks[held].tolist())
    return pairs[keep].reset_index(drop=True), labels


def training_set(
    recommender: Recommender,
    features_artefact: RankerArtefact,
    labels: dict[str, set[str]],
    users: list[str],
    max_negatives: int = 10**9,
    seed: int = 0,
    on_progress: Callable[[str], None] = lambda _: None,
) -> TrainingSet:
    """Pools and feature rows of `users` through the serving pipeline, labelled; at most
    `max_negatives` (seeded sample) non-relevant candidates per user. Progress is reported
    at every tenth of the users (at 160k tracks this step is the longest of `musicrec train`)."""
    rng = np.random.default_rng(seed)
    xs, ys, groups, kept, ids = [], [], [], [], []
    snapshot = recommender.snapshot()  # train_ranker's holders: the feature-part model
    started, step = time.perf_counter(), max(len(users) // 10, 1)
    for done, user in enumerate(users, 1):
        if done % step == 0:
            elapsed = time.perf_counter() - started
            on_progress(f"ranker: pools of {done}/{len(users)} users ({elapsed:.0f} s)")
        try:
            q = recommender.user_query(user, snapshot=snapshot)
        except (UnknownUserError, UnsupportedQueryError):
            continue  # no seed in the collection: nothing to learn from
        q = replace(q, snapshot=replace(q.snapshot, artefact=features_artefact))
        held = labels[user]
        keep = partial(_sample, held=held, max_negatives=max_negatives, rng=rng)
        scored = recommender.scored_pool(q, 0, features=True, keep=keep)
        y = np.array([s.candidate.track_id in held for s in scored], dtype=np.float32)
        if not y.any():
            continue
        xs.append(feature_matrix(scored))
        ys.append(y)
        groups.append(len(scored))
        kept.append(user)
        ids += [s.candidate.track_id for s in scored]
    width = len(recommender.layout.names)
    return TrainingSet(
        np.vstack(xs) if xs else np.zeros((0, width), np.float32),
        np.concatenate(ys) if ys else np.zeros(0, np.float32),
        groups,
        kept,
        ids,
        recommender.layout.names,
    )


def _sample(
    pool: list[str], *, held: set[str], max_negatives: int, rng: np.random.Generator
) -> list[str]:
    """Every labelled candidate of `pool` and at most `max_negatives` others (seeded), chosen
    before the pool is fetched and scored: scoring the whole pool to drop most of it was a
    quarter of the pooling time at 160k (docs/performance.md)."""
    negatives = [t for t in pool if t not in held]
    if len(negatives) > max_negatives:
        negatives = [negatives[i] for i in rng.choice(len(negatives), max_negatives, False)]
    return [t for t in pool if t in held] + negatives


def fit_booster(data: TrainingSet, params: RankerParams) -> tuple[lgb.Booster, dict[str, Any]]:
    """LambdaRank with the tree size (`params.trees`) and number of rounds that score best on
    NDCG@10 of held-out users: k-fold over the users when they are few (`cv_below`), else one
    validation split; every candidate's score is in the returned info."""
    if not data.groups:
        raise ValueError(
            "no training user's candidate pool holds any of their held-out tracks: "
            "too few interactions to train a ranker"
        )
    fits = [_fit_trees(data, params, leaves, min_data) for leaves, min_data in params.trees]
    key = "cv_ndcg@10" if "cv_ndcg@10" in fits[0][1] else "valid_ndcg@10"
    best = max(range(len(fits)), key=lambda i: (fits[i][1].get(key, 0.0), -i))
    booster, info = fits[best]
    if len(fits) > 1 and key in info:
        sizes = (f"{leaves}/{m}" for leaves, m in params.trees)
        info["trees"] = {size: f[1][key] for size, f in zip(sizes, fits, strict=True)}
    return booster, info


def _fit_trees(
    data: TrainingSet, params: RankerParams, num_leaves: int, min_data_in_leaf: int
) -> tuple[lgb.Booster, dict[str, Any]]:
    """One tree size: its rounds early-stopped on the held-out users (see `fit_booster`)."""
    n = len(data.groups)
    config = {
        "objective": "lambdarank",
        "metric": "ndcg",
        "eval_at": [10],
        "learning_rate": params.learning_rate,
        "lambda_l2": params.lambda_l2,
        "num_leaves": num_leaves,
        "min_data_in_leaf": min_data_in_leaf,
        "feature_fraction": 0.8,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambdarank_truncation_level": 20,
        "max_bin": 63,
        "num_threads": params.threads,
        "seed": params.seed,
        "deterministic": True,
        "force_row_wise": True,
        "verbose": -1,
    }
    sizes = {"num_leaves": num_leaves, "min_data_in_leaf": min_data_in_leaf}
    if n < 2 * params.folds:  # too few users to hold any out: the full number of rounds
        booster = lgb.train(config, _dataset(data, np.ones(n, bool)), params.rounds)
        return booster, {"rounds": params.rounds, "train_users": n, "valid_users": 0, **sizes}
    stop: list[Callable[..., Any]] = [lgb.early_stopping(params.early_stopping, verbose=False)]
    if n < params.cv_below:
        everyone = _dataset(data, np.ones(n, bool))
        curves = cast(
            dict[str, list[float]],
            lgb.cv(config, everyone, params.rounds, nfold=params.folds, callbacks=stop),
        )
        best = len(curves["valid ndcg@10-mean"])
        booster = lgb.train(config, everyone, best)
        score = curves["valid ndcg@10-mean"][-1]
        return booster, {
            "rounds": best,
            "train_users": n,
            "cv_folds": params.folds,
            "cv_ndcg@10": round(float(score), 4),
            **sizes,
        }
    valid = np.random.default_rng(params.seed + 1).random(n) < params.validation_share
    booster = lgb.train(
        config,
        _dataset(data, ~valid),
        params.rounds,
        valid_sets=[_dataset(data, valid)],
        callbacks=stop,
    )
    best = booster.best_iteration or params.rounds
    if best < booster.current_iteration():
        booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
    score = booster.best_score["valid_0"]["ndcg@10"]
    return booster, {
        "rounds": best,
        "train_users": int((~valid).sum()),
        "valid_users": int(valid.sum()),
        "valid_ndcg@10": round(float(score), 4),
        **sizes,
    }


def _dataset(data: TrainingSet, users: np.ndarray) -> lgb.Dataset:
    """The rows of the chosen users (a boolean mask over `data.groups`), grouped per user."""
    starts = np.concatenate([[0], np.cumsum(data.groups)])
    chosen = np.flatnonzero(users)
    idx = np.concatenate([np.arange(starts[i], starts[i + 1]) for i in chosen])
    return lgb.Dataset(
        data.x[idx],
        data.y[idx],
        group=[data.groups[i] for i in chosen],
        feature_name=list(data.features),
        free_raw_data=False,
    )


@dataclass
class Prepared:
    """What `prepare_training` built: the labels, the feature-part models the pools are
    scored with, the users to pool, and what the served artefact is made from."""

    recommender: Recommender  # the serving pipeline over the feature-part models
    features_artefact: RankerArtefact
    labels: dict[str, set[str]]
    users: list[str]  # the sampled users to pool
    pairs: pd.DataFrame  # the unique (user_id, track_id) pairs
    artists: dict[str, list[str]]
    cf: CFSettings | None  # with the values `tune_cf` chose
    models: list[str]  # the collaborative models of the recommender's sources
    tuning: dict[str, dict[str, float]]


def prepare_training(
    interactions: pd.DataFrame,
    recommender: Recommender,
    fit_collab: Callable[[pd.DataFrame], CollaborativeModel],
    params: RankerParams,
    on_progress: Callable[[str], None] = lambda _: None,
    cf: CFSettings | None = None,
) -> Prepared:
    """For `interactions` (user_id, track_id): the labels split off, LightFM and the
    collaborative models fitted (and tuned) on the feature part, the users to pool sampled.
    `pool_users` then builds the rows; scripts/tune_ranker_training.py compares training
    choices on the same rows."""
    if "weight" in interactions:
        interactions = interactions[interactions["weight"] > 0]
    pairs = interactions[["user_id", "track_id"]].astype(str).drop_duplicates()
    features_part, labels = split_interactions(pairs, params)
    on_progress(
        f"ranker: {len(labels)} users with held-out tracks, "
        f"{sum(map(len, labels.values()))} labels, {len(features_part)} feature interactions"
    )
    collab = fit_collab(features_part)
    artists = stored_artists(recommender.store, pairs["track_id"].unique().tolist())
    # The collaborative models of the recommender's sources (`cf`: their hyper-parameters).
    models = [n for n in recommender.layout.sources if n in CF_NAMES] if cf is not None else []
    features_index = UserTrackMatrix.from_pairs(features_part, artists)
    feature_cf: CFScores | None = None
    tuning: dict[str, dict[str, float]] = {}
    if cf is not None and models:
        # Their hyper-parameters chosen on this split's labels (`cf_tuning`); the served
        # models are refitted with the chosen values.
        on_progress(f"ranker: collaborative models {models} on the feature part, tuned")
        feature_cf, cf, tuning = tune_cf(
            features_index, labels, cf, models, seed=params.seed, on_progress=on_progress
        )
    features_artefact = RankerArtefact(features_index, cf=feature_cf)
    training = replace(
        recommender, collab=Fixed(collab), ranker=Fixed(features_artefact), history=None
    )
    users = sorted(labels)
    if len(users) > params.max_users:
        chosen = np.random.default_rng(params.seed + 2).choice(len(users), params.max_users, False)
        users = [users[i] for i in sorted(chosen)]
    return Prepared(training, features_artefact, labels, users, pairs, artists, cf, models, tuning)


def pool_users(
    prepared: Prepared, params: RankerParams, on_progress: Callable[[str], None] = lambda _: None
) -> TrainingSet:
    """The training rows of the prepared users, pooled through the serving pipeline."""
    started = time.perf_counter()
    data = training_set(
        prepared.recommender,
        prepared.features_artefact,
        prepared.labels,
        prepared.users,
        params.max_negatives,
        params.seed,
        on_progress,
    )
    pooled = time.perf_counter() - started
    on_progress(f"ranker: {len(data.y)} rows for {len(data.users)} users ({pooled:.1f} s)")
    return data


def train_ranker(
    interactions: pd.DataFrame,
    recommender: Recommender,
    fit_collab: Callable[[pd.DataFrame], CollaborativeModel],
    params: RankerParams,
    on_progress: Callable[[str], None] = lambda _: None,
    cf: CFSettings | None = None,
) -> RankerArtefact:
    """The ranker artefact (not yet published) for `interactions` (user_id, track_id).

    `recommender` gives the store, the content source and the pool settings; its holders are
    replaced here by the feature-part LightFM model and interaction matrix. The served
    collaborative models (all interactions) are fitted in a second thread while the users are
    pooled: pooling runs one core through the GIL, the fits mostly in native code
    (docs/performance.md, "Training at 160k")."""
    started, cpu = time.perf_counter(), time.process_time()
    prepared = prepare_training(interactions, recommender, fit_collab, params, on_progress, cf)
    pairs = prepared.pairs
    index = UserTrackMatrix.from_pairs(pairs, prepared.artists)
    with ThreadPoolExecutor(1, thread_name_prefix="cf") as background:
        serving = background.submit(_served_cf, index, prepared.cf, prepared.models, on_progress)
        data = pool_users(prepared, params, on_progress)
        booster, info = fit_booster(data, params)
        serving_cf = serving.result()
    metadata = {
        "trained_at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
        "lightgbm_version": lgb.__version__,
        "params": dict(vars(params)),
        "counts": {
            "users": len(pairs["user_id"].unique()),
            "interactions": len(pairs),
            "query_users": len(data.users),
            "rows": len(data.y),
            "positives": int(data.y.sum()),
            **info,
        },
        "cf": serving_cf.metadata() if serving_cf is not None else {},
        "cf_tuning": prepared.tuning,
        "train_seconds": round(time.perf_counter() - started, 3),
        # CPU time of this process: what the training costs on cores it does not share.
        "train_cpu_seconds": round(time.process_time() - cpu, 3),
    }
    return RankerArtefact(index, booster, metadata, data.features, serving_cf)


def _served_cf(
    index: UserTrackMatrix,
    settings: CFSettings | None,
    names: list[str],
    on_progress: Callable[[str], None],
) -> CFScores | None:
    """The served collaborative models, on all interactions (`settings`: the tuned values)."""
    if settings is None or not names:
        return None
    on_progress(f"ranker: collaborative models {names} on all interactions")
    return fit_cf(index, settings, names, on_progress)


def stored_artists(store: VectorStore, track_ids: list[str]) -> dict[str, list[str]]:
    """Each indexed track's artists, as the collection stores them (tracks outside it have
    none): what the co-listened artists are counted over."""
    out: dict[str, list[str]] = {}
    for start in range(0, len(track_ids), 1000):
        batch = [point_id(t) for t in track_ids[start : start + 1000]]
        for record in store.retrieve(batch):
            out[record.payload["track_id"]] = list(record.payload.get("artists") or ())
    return out
