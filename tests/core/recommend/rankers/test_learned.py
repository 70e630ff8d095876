"""The learned ranker on a small real case: no leakage from the labels, explanations that add
up to the score, the artefact's publish / reload / fallback behaviour."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from core.artefacts import ArtefactError, ArtefactHolder, Fixed
from core.collab.training import train
from core.recommend.cf_models import fit_cf
from core.recommend.factory import build_recommender
from core.recommend.features import FEATURE_NAMES
from core.recommend.rankers.artefact import POINTER, RankerArtefact, load, ranker_holder
from core.recommend.sources.registry import REGISTRY
from core.recommend.training import (
    RankerParams,
    split_interactions,
    stored_artists,
    train_ranker,
    training_set,
)
from core.recommend.user_tracks import UserTrackMatrix
from core.store.edge import EdgeStore
from schemas.settings.recommend import RecommendSettings
from schemas.tracks import Track
from tests.core.recommend.sources.test_contract import CF, CF_SETTINGS, USER, interactions
from tests.core.store.contract import LAYOUT, make_points

PARAMS = RankerParams(label_share=0.25, max_users=2000, threads=1, seed=3, trees=((3, 10), (7, 5)))
SETTINGS = RecommendSettings()
TRACKS = [Track.from_payload(p.payload) for p in make_points()]


def fit(part):
    return train(part, TRACKS, epochs=5, num_threads=1, seed=1)


def points_store(path, name: str) -> EdgeStore:
    """An embedded store holding the contract suite's points."""
    s = EdgeStore(path / "q", name)
    s.create(LAYOUT, {})
    s.upsert(make_points())
    return s


def train_all(store, settings=SETTINGS, registry=REGISTRY):
    """(recommender with LightFM, LightFM, ranker artefact) trained on `interactions()`."""
    frame = interactions()
    model = fit(frame)
    base = build_recommender(settings, store, collab=Fixed(model), registry=registry)
    return base, model, train_ranker(frame, base, fit, PARAMS, cf=CF_SETTINGS)


@pytest.fixture(scope="module")
def store(module_dir):
    s = points_store(module_dir, "ranker")
    yield s
    s.close()


@pytest.fixture(scope="module")
def trained(store):
    return train_all(store)


def col(name: str) -> int:
    return FEATURE_NAMES.index(name)


def test_no_feature_comes_from_the_labels_own_interaction(store) -> None:
    frame = interactions()
    fitted = []

    def spy(part):
        fitted.append(part)
        return fit(part)

    base = build_recommender(SETTINGS, store, collab=Fixed(fit(frame)))
    published = train_ranker(frame, base, spy, PARAMS, cf=CF_SETTINGS)
    features_part, labels = split_interactions(frame, PARAMS)
    label_pairs = {(u, t) for u, ts in labels.items() for t in ts}
    assert label_pairs
    # LightFM behind the training features never saw a label pair.
    [seen] = fitted
    assert not label_pairs & set(zip(seen["user_id"], seen["track_id"], strict=True))

    # Tracks that only the label's own user holds: from the feature part nobody holds them,
    # so their popularity and co-occurrence features must be 0 in that user's rows.
    holders = frame.groupby("track_id")["user_id"].agg(set)
    private = {(u, t) for u, t in label_pairs if holders[t] == {u}}
    assert private, "the case must hold label tracks nobody else has"
    artists = stored_artists(store, frame["track_id"].unique().tolist())
    index = UserTrackMatrix.from_pairs(features_part, artists)
    training = replace(base, collab=Fixed(fit(features_part)), ranker=None)
    data = training_set(
        training, RankerArtefact(index, cf=fit_cf(index, CF_SETTINGS)), labels, sorted(labels)
    )
    everything = UserTrackMatrix.from_pairs(frame, artists)
    leaky = training_set(
        training,
        RankerArtefact(everything, cf=fit_cf(everything, CF_SETTINGS)),
        labels,
        sorted(labels),
    )
    starts = np.concatenate([[0], np.cumsum(data.groups)])
    checked = 0
    for g, user in enumerate(data.users):
        for r in range(starts[g], starts[g + 1]):
            if (user, data.track_ids[r]) in private:
                checked += 1
                assert data.x[r, col("interaction_count")] == 0
                assert data.x[r, col("cooc_norm")] == 0
                # No collaborative model fitted on the feature part has seen the track.
                for name in CF:
                    assert np.isnan(data.x[r, col(f"cf_{name}")])
                    assert np.isnan(data.x[r, col(f"{name}_score")])
                assert data.y[r] == 1
    assert checked, "some private label track must be in its user's pool"
    # The same rows built from all interactions do leak (the check above can fail).
    assert leaky.x[:, col("interaction_count")].sum() > data.x[:, col("interaction_count")].sum()
    for name in CF:  # …and the models fitted on everything do score the private label tracks
        assert (
            np.isfinite(leaky.x[:, col(f"cf_{name}")]).sum()
            > np.isfinite(data.x[:, col(f"cf_{name}")]).sum()
        )
    # The published artefact's models are refitted on all interactions, beside the booster.
    assert published.cf is not None and published.cf.names == list(CF)
    assert published.cf.index is published.index and len(published.index) > len(index)
    # Co-listened artists are counted from the same feature part, for every candidate.
    assert not np.isnan(data.x[:, col("artist_colisten")]).any()


def test_the_tree_size_is_the_validations_choice(trained) -> None:
    """Every candidate size is scored on the held-out users, and the best one is kept."""
    _, _, artefact = trained
    counts = artefact.metadata["counts"]
    scores = counts["trees"]
    assert set(scores) == {"3/10", "7/5"}
    chosen = f"{counts['num_leaves']}/{counts['min_data_in_leaf']}"
    key = "cv_ndcg@10" if "cv_ndcg@10" in counts else "valid_ndcg@10"
    assert scores[chosen] == counts[key] == max(scores.values())


def test_explanations_sum_to_the_score(store, trained) -> None:
    base, _, artefact = trained
    rec = replace(base, ranker=Fixed(artefact))
    for weights in ({}, {"audio": 2.0, "lyrics": 0.5}):
        result = rec.recommend_for_user(USER, limit=10, weights=weights)
        assert result.personalization.ranker == "learned"
        assert result.personalization.collab_weight is None
        assert result.items
        scores = [i.score for i in result.items]
        assert scores == sorted(scores, reverse=True)
        for item in result.items:
            assert item.explanation is not None and "base" in item.explanation
            assert sum(item.explanation.values()) == pytest.approx(item.score, abs=1e-6)
            assert set(item.explanation) - {"base"} <= {
                "lyrics", "lyrics_terms", "cover", "audio", "content", "collaborative",
                "cooccurrence", "artist", "popularity", "context", *CF,
            }  # fmt: skip
            assert item.sources


def test_modality_weights_steer_the_ranker(store, trained) -> None:
    base, _, artefact = trained
    rec = replace(base, ranker=Fixed(artefact))
    plain = rec.recommend_for_user(USER, limit=20)
    audio = rec.recommend_for_user(USER, limit=20, weights={"audio": 4.0})
    by_id = {i.track.id: i for i in plain.items}
    moved = [
        (i.explanation or {}).get("audio", 0)
        - (by_id[i.track.id].explanation or {}).get("audio", 0)
        for i in audio.items
        if i.track.id in by_id
    ]
    assert any(abs(m) > 1e-9 for m in moved), "audio x4 must change audio's contributions"


def test_explicit_collab_weight_is_the_linear_blend(store, trained) -> None:
    base, _, artefact = trained
    rec = replace(base, ranker=Fixed(artefact))
    result = rec.recommend_for_user(USER, limit=10, collab_weight=0.8)
    assert result.personalization.ranker == "linear-blend"
    for item in result.items:
        assert item.explanation is None
        assert item.blended_score == pytest.approx(
            0.2 * item.content_score + 0.8 * item.collaborative_score, abs=1e-5
        )


def test_publish_reload_and_a_broken_artefact_leaves_the_last_good(tmp_path, trained) -> None:
    _, _, artefact = trained
    holder: ArtefactHolder[RankerArtefact] = ranker_holder(tmp_path, reload_seconds=0)
    assert holder.current() is None and holder.error is None  # missing: the blend serves
    first = artefact.save(tmp_path)
    loaded = holder.current()
    assert loaded is not None and holder.version == first.name
    x = np.random.default_rng(0).random((5, len(FEATURE_NAMES)))
    assert np.allclose(loaded.booster.predict(x), artefact.booster.predict(x))
    assert loaded.index.track_ids == artefact.index.track_ids
    assert loaded.index.artists is not None and artefact.index.artists is not None
    assert loaded.index.artists.track_artists == artefact.index.artists.track_artists
    assert loaded.cf is not None and artefact.cf is not None and loaded.cf.names == list(CF)
    for name in CF:
        history = loaded.index.user_tracks(USER)
        np.testing.assert_allclose(
            loaded.cf.scores(name, history), artefact.cf.scores(name, history), rtol=1e-6
        )
    broken = tmp_path / "ranker-broken.npz"
    broken.write_bytes(first.read_bytes()[: len(first.read_bytes()) // 2])
    (tmp_path / POINTER).write_text(broken.name + "\n")
    assert holder.current() is loaded  # the last good one keeps serving
    assert holder.version == first.name and "ranker-broken.npz" in (holder.error or "")
    second = artefact.save(tmp_path)
    assert holder.current() is not loaded and holder.version == second.name
    assert holder.error is None
    assert load(second).metadata["counts"]["query_users"] > 0


def test_an_artefact_that_disagrees_with_itself_or_this_code_is_refused(tmp_path, trained) -> None:
    """Artists for fewer tracks than the matrix has, or an older format: refused by name, never
    served half-read."""
    _, _, artefact = trained
    path = artefact.save(tmp_path)
    with np.load(path) as a:
        arrays = dict(a)
    short = json.loads(arrays["track_artists"].tobytes().decode())[:-1]
    arrays["track_artists"] = np.frombuffer(json.dumps(short).encode(), dtype=np.uint8)
    np.savez(tmp_path / "short.npz", **arrays)
    with pytest.raises(ArtefactError, match=r"short\.npz: not a readable ranker artefact"):
        load(tmp_path / "short.npz")
    meta = json.loads(arrays["meta"].tobytes().decode()) | {"format_version": 1}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(tmp_path / "old.npz", **arrays)
    with pytest.raises(ArtefactError, match=r"format version 1.*retrain"):
        load(tmp_path / "old.npz")


def test_a_broken_collaborative_model_refuses_the_whole_artefact(tmp_path, trained) -> None:
    """A CF model's arrays cut short (or naming another model) make the file unreadable: the
    holder keeps the last good booster and models together, never half of them."""
    _, _, artefact = trained
    holder: ArtefactHolder[RankerArtefact] = ranker_holder(tmp_path, reload_seconds=0)
    good = artefact.save(tmp_path)
    serving = holder.current()
    assert serving is not None and serving.cf is not None
    with np.load(good) as a:
        arrays = dict(a)
    factors = next(k for k in arrays if k.startswith("cf/ials/") and arrays[k].ndim == 2)
    for name, bad in {
        "cut": {**arrays, factors: arrays[factors][:-1]},
        "swapped": {
            **{k: v for k, v in arrays.items() if not k.startswith("cf/ease/")},
            **{
                k.replace("cf/rp3beta/", "cf/ease/"): v
                for k, v in arrays.items()
                if k.startswith("cf/rp3beta/")
            },
        },
    }.items():
        path = tmp_path / f"ranker-{name}.npz"
        np.savez(path, **bad)
        with pytest.raises(ArtefactError, match=rf"ranker-{name}\.npz"):
            load(path)
        (tmp_path / POINTER).write_text(path.name + "\n")
        assert holder.current() is serving and holder.version == good.name
        assert path.name in (holder.error or "")


def test_without_a_ranker_the_linear_blend_serves(store, trained) -> None:
    base, _, _ = trained
    result = base.recommend_for_user(USER, limit=5)
    assert result.personalization.ranker == "linear-blend"
    assert all(i.blended_score is not None for i in result.items)


def test_training_rows_sampled_before_scoring_are_the_whole_pools_rows(store) -> None:
    """Training fetches and scores only the labelled candidates and a sample of the others
    (`scored_pool(keep=...)`): each kept row must be the row that candidate has in the whole
    pool, and every labelled candidate of the pool must be kept."""
    frame = interactions()
    features_part, labels = split_interactions(frame, PARAMS)
    artists = stored_artists(store, frame["track_id"].unique().tolist())
    index = UserTrackMatrix.from_pairs(features_part, artists)
    artefact = RankerArtefact(index, cf=fit_cf(index, CF_SETTINGS))
    training = replace(
        build_recommender(SETTINGS, store), collab=Fixed(fit(features_part)), ranker=Fixed(artefact)
    )
    data = training_set(training, artefact, labels, sorted(labels), max_negatives=3, seed=5)
    starts = np.concatenate([[0], np.cumsum(data.groups)])
    compared = 0
    for g, user in enumerate(data.users):
        q = training.user_query(user)
        whole = {
            s.candidate.track_id: s.features for s in training.scored_pool(q, 0, features=True)
        }
        rows = range(starts[g], starts[g + 1])
        assert {t for t in whole if t in labels[user]} <= {data.track_ids[r] for r in rows}
        assert int((data.y[starts[g] : starts[g + 1]] == 0).sum()) <= 3
        for r in rows:
            # LightFM's float32 dot products round by the batch they are computed in: 1 ulp.
            np.testing.assert_allclose(data.x[r], whole[data.track_ids[r]], rtol=1e-6, atol=1e-6)
            compared += 1
    assert compared > 3 * len(data.users) / 2 and len(whole) > 3 + 4  # pools were cut
