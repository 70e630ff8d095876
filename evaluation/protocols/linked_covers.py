"""The real covers linked to catalog tracks (../shared/data/covers_linked): what the cover
encoder sees, and whether covers help the recommender continue real playlists.

(a) Retrieval: each linked cover with an album genre (`albums.csv`) queries its k nearest
other covers by cosine; P@k = share with the query's genre. Encoders: the product's CNN,
open_clip without weights (random init: what the CLIP path gives without a checkpoint, said
so) and random neighbour lists. Also with the query artist's other albums left out of the
neighbours, because an artist's albums share a genre *and* a look, and that is artist
identity rather than genre.

(b) Recommendation: TidyTuesday playlist continuation (20% of each playlist with >= 10 tracks
hidden, seeded: `evaluation.splits.continuation_split`), evaluated on the playlists holding at
least three covered tracks. The whole product runs twice on the same catalog, split and
LightFM model: once with the linked covers indexed (`cover` vectors: the content source's
cover prefetch and the ranker's cover features exist), once without (no track has a cover).
Each run trains its own LambdaRank ranker on the training side only (`train_ranker`); the
playlists' rankings are compared pairwise. Links by Spotify album id and by artist + album
name are separate runs, so a name link's cover variant cannot flatter the exact ones.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from core.artefacts import Fixed
from core.collab.model import CollaborativeModel
from core.collab.training import train
from core.encoders.base import Encoder
from core.interactions.files import tidytuesday_interactions
from core.recommend.factory import build_recommender
from core.recommend.features import GROUPS
from core.recommend.training import ranker_params, train_ranker
from core.store.edge import EdgeStore
from evaluation.datasets import TIDYTUESDAY, playlist_catalog, write_kaggle_csv
from evaluation.methods.base import top_k
from evaluation.metrics import bootstrap_ci, mean_ci, ranking_metrics
from evaluation.splits import continuation_split
from indexer.catalog import read_catalog
from indexer.covers import CoverFetcher, CoverUrlEncoder
from indexer.pipeline import Indexer
from schemas.layout import COVER
from schemas.settings import Settings

LINKED = "covers_linked"
K = 10
METRICS = (f"NDCG@{K}", f"P@{K}", f"HR@{K}")
MIN_COVERED = 3
#: docs/evaluation.md's section written by `scripts/eval_covers.py --linked`, kept as it is
#: by scripts/evaluate.py (`evaluation.report.blocks`).
LINKED_BLOCK = "covers-linked"
LINKED_DEFAULT = (
    "Not measured yet: `python scripts/eval_covers.py --linked --shared ../shared/data` writes "
    "this section and its numbers to `covers-evaluation.json`."
)
#: The album-id links and the artist + album name links, measured apart.
LINK_SETS: dict[str, tuple[str, ...]] = {"id": ("id",), "name": ("name",)}


# --- (a) retrieval ------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkedCovers:
    files: list[Path]
    genres: list[str]
    artists: list[str]


def load_linked_covers(shared: Path) -> LinkedCovers:
    """The linked covers with an album genre (genre spelling folded: "Blues ROck")."""
    albums = pd.read_csv(shared / LINKED / "albums.csv", dtype=str).fillna("")
    albums = albums[albums["album_genre"].str.strip() != ""].sort_values("album_id")
    root = shared / LINKED / "images"
    return LinkedCovers(
        [root / f"{a}.jpg" for a in albums["album_id"]],
        [g.strip().casefold() for g in albums["album_genre"]],
        [a.strip().casefold() for a in albums["artist"]],
    )


def embed_files(encoder: Encoder[Image.Image], files: Sequence[Path]) -> np.ndarray:
    images = [Image.open(f).convert("RGB") for f in files]
    vectors = encoder.encode(images)
    if any(v is None for v in vectors):
        raise SystemExit(f"{encoder.encoder_id} declined a cover")
    return np.stack([v for v in vectors if v is not None])


def genre_retrieval(
    scores: np.ndarray, covers: LinkedCovers, k: int, *, other_artists: bool
) -> np.ndarray:
    """Per-query P@k of same-genre covers among the k best-scored others; `other_artists`
    leaves the query artist's own albums out of the candidates and of the relevant set.
    Queries whose genre has no eligible other cover are skipped."""
    genres, artists = np.asarray(covers.genres), np.asarray(covers.artists)
    index = np.arange(len(genres))
    pairs = []
    for i in index:
        eligible = index != i
        if other_artists:
            eligible &= artists != artists[i]
        relevant = set(np.flatnonzero(eligible & (genres == genres[i])))
        if relevant:
            pairs.append((top_k(scores[i][eligible], index[eligible], k), relevant))
    return ranking_metrics(pairs, (k,))[f"P@{k}"]


RANDOM = "random neighbours"


def retrieval(
    shared: Path,
    encoders: dict[str, Encoder[Image.Image]],
    *,
    k: int = K,
    seed: int = 7,
    bootstrap: int = 2000,
) -> dict[str, Any]:
    """Numbers of (a): per neighbour set (all covers / other artists' covers), each method's
    P@k (mean, low, high) and the first encoder's paired difference with every other."""
    covers = load_linked_covers(shared)
    scores = {}
    for name, encoder in encoders.items():
        vectors = embed_files(encoder, covers.files)
        scores[name] = vectors @ vectors.T
    scores[RANDOM] = np.random.default_rng(seed).random((len(covers.files), len(covers.files)))
    genres = sorted(set(covers.genres))
    out: dict[str, Any] = {
        "covers": len(covers.files),
        "genres": {g: covers.genres.count(g) for g in genres},
        "encoders": {name: e.encoder_id for name, e in encoders.items()},
        "k": k,
    }
    first = next(iter(encoders))
    for label, other_artists in (("all covers", False), ("other artists' covers", True)):
        per = {
            n: genre_retrieval(s, covers, k, other_artists=other_artists) for n, s in scores.items()
        }
        out[label] = {
            "queries": len(per[first]),
            "P@k": {n: list(mean_ci(v, rounds=bootstrap, seed=seed)) for n, v in per.items()},
            f"{first} minus": {
                n: [
                    float((per[first] - v).mean()),
                    *bootstrap_ci(per[first] - v, rounds=bootstrap, seed=seed),
                ]
                for n, v in per.items()
                if n != first
            },
        }
    return out


# --- (b) playlist continuation ------------------------------------------------------------


@dataclass
class Condition:
    """One indexed catalog (covers of one link set, or none) and the playlists' rankings."""

    name: str
    rankings: dict[str, list[str]] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)


def linked_tracks(shared: Path) -> pd.DataFrame:
    """TidyTuesday track id -> album id and link type (id / name)."""
    links = pd.read_csv(shared / LINKED / "track_covers.csv", dtype=str)
    links = links[links["catalog"] == "tidytuesday"].drop_duplicates("track_id")
    return links.set_index("track_id")[["album_id", "match"]]


def covered_playlists(rows: pd.DataFrame, covered: set[str], hidden: dict) -> list[str]:
    """Evaluated playlists (with hidden tracks) holding at least MIN_COVERED covered tracks."""
    counts = rows[rows["track_id"].isin(covered)].groupby("user_id").size()
    return sorted(u for u in counts[counts >= MIN_COVERED].index if u in hidden)


def continuation(
    shared: Path,
    cover_encoder: Encoder[Image.Image],
    *,
    seed: int = 7,
    threads: int = 1,
    bootstrap: int = 2000,
    workdir: Path | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Numbers of (b): per link set, the playlists, with/without metrics and paired
    differences (mean, low, high), the cover features' share of the ranker's gain."""
    csv = shared / TIDYTUESDAY
    tidy = pd.read_csv(csv, dtype={"track_id": str})
    rows = tidytuesday_interactions(csv)
    train_rows, hidden_arrays = continuation_split(rows, seed)
    hidden = {u: set(map(str, v)) for u, v in hidden_arrays.items()}
    links = linked_tracks(shared)
    # No lyrics (681 tracks would have them): the content side is audio, plus covers.
    frame = playlist_catalog(tidy, {})
    evaluated = {
        name: covered_playlists(rows, set(links.index[links["match"].isin(kinds)]), hidden)
        for name, kinds in LINK_SETS.items()
    }
    users = sorted(set().union(*evaluated.values()))
    images = (shared / LINKED / "images").resolve()
    out: dict[str, Any] = {"seed": seed, "k": K, "catalog tracks": len(frame), "conditions": {}}
    with tempfile.TemporaryDirectory(prefix="musicrec-covers-eval-") as tmp:
        work = workdir or Path(tmp)
        catalogs = {"none": frame.assign(album_url="")}
        for name, kinds in LINK_SETS.items():
            chosen = links[links["match"].isin(kinds)]
            urls = frame["id"].map(lambda t, c=chosen: _url(images, c, t))
            catalogs[name] = frame.assign(album_url=urls.fillna(""))
        paths = {n: write_kaggle_csv(f, work / f"catalog-{n}.csv") for n, f in catalogs.items()}
        tracks = [t for batch in read_catalog(paths["none"], schema="kaggle") for t in batch]

        def fit(part: pd.DataFrame) -> CollaborativeModel:
            return train(part, tracks, num_threads=threads, seed=seed)

        started = time.perf_counter()
        model = fit(train_rows)
        log(f"covers continuation: LightFM in {time.perf_counter() - started:.0f} s")
        fetcher = CoverFetcher(work / "cover-cache")
        covers = CoverUrlEncoder(fetcher, cover_encoder)
        try:
            stores = _index_conditions(paths, work, [covers], images, log)
            conditions = {
                n: _run_condition(n, s, train_rows, users, model, fit, seed, threads, log)
                for n, s in stores.items()
            }
        finally:
            covers.close()
    for name in LINK_SETS:
        covered = set(links.index[links["match"].isin(LINK_SETS[name])])
        mine = evaluated[name]
        block: dict[str, Any] = {
            "playlists": len(mine),
            "covered tracks": len(covered & set(frame["id"])),
            "hidden tracks": sum(len(hidden[u]) for u in mine),
            "hidden covered tracks": sum(len(hidden[u] & covered) for u in mine),
        }
        block.update(conditions[name].facts)
        with_cover = {u: hidden[u] & covered for u in mine if hidden[u] & covered}
        for relevance, sets in (
            ("all hidden tracks", {u: hidden[u] for u in mine}),
            ("hidden covered tracks", with_cover),
        ):
            block[relevance] = paired_comparison(
                conditions[name].rankings, conditions["none"].rankings, sets, bootstrap, seed
            )
        out["conditions"][name] = block
    out["without covers"] = conditions["none"].facts
    return out


def _url(images: Path, links: pd.DataFrame, track_id: str) -> str | None:
    if track_id not in links.index:
        return None
    return (images / f"{links.loc[track_id, 'album_id']!s}.jpg").as_uri()


def _index_conditions(
    paths: dict[str, Path],
    work: Path,
    encoders: list[Encoder],
    images: Path,
    log: Callable[[str], None],
) -> dict[str, EdgeStore]:
    """The cover-less catalog indexed once (its layout has the cover vector), then copied and
    re-indexed per link set: only the tracks whose album_url changed are encoded again."""
    base = work / "store-none"
    started = time.perf_counter()
    _index(base, paths["none"], encoders, images).close()
    log(f"covers continuation: catalog indexed in {time.perf_counter() - started:.0f} s")
    stores = {"none": EdgeStore(base, "tracks", exact_search_below=10**9)}
    for name, path in paths.items():
        if name == "none":
            continue
        shutil.copytree(base, work / f"store-{name}")
        started = time.perf_counter()
        stores[name] = _index(work / f"store-{name}", path, encoders, images)
        log(f"covers continuation, {name} links: covers in {time.perf_counter() - started:.0f} s")
    return stores


def _index(directory: Path, path: Path, encoders: list[Encoder], images: Path) -> EdgeStore:
    store = EdgeStore(directory, "tracks", exact_search_below=10**9)
    Indexer(store, encoders, optimize_above=10**9, progress=False, cover_local_dir=images).run(
        path, schema="kaggle"
    )
    return store


def _run_condition(
    name: str,
    store: EdgeStore,
    train_rows: pd.DataFrame,
    users: Sequence[str],
    model: CollaborativeModel,
    fit: Callable[[pd.DataFrame], CollaborativeModel],
    seed: int,
    threads: int,
    log: Callable[[str], None],
) -> Condition:
    """Train this catalog's ranker on the training side, rank every evaluated playlist."""
    condition = Condition(name)
    # What serves: the settings' defaults (and MUSICREC_* overrides), through the factory.
    settings = Settings()
    base = build_recommender(settings, store, collab=Fixed(model))
    params = replace(ranker_params(settings), threads=threads, seed=seed)
    started = time.perf_counter()
    artefact = train_ranker(train_rows, base, fit, params, log, cf=settings)
    condition.facts["ranker train seconds"] = round(time.perf_counter() - started, 1)
    assert artefact.booster is not None
    gain = artefact.booster.feature_importance("gain")
    shares = dict(zip(artefact.features, gain / (float(gain.sum()) or 1.0), strict=True))
    condition.facts["cover features' gain share"] = round(
        sum(float(s) for f, s in shares.items() if GROUPS[f] == COVER), 4
    )
    condition.facts["ranker rounds"] = artefact.metadata["counts"].get("rounds")
    rec = build_recommender(settings, store, collab=Fixed(model), ranker=Fixed(artefact))
    for user in users:
        answer = rec.recommend_for_user(user, limit=K)
        condition.rankings[user] = [item.track.id for item in answer.items]
    store.close()
    log(f"covers continuation, {name}: ranked {len(users)} playlists")
    return condition


def paired_comparison(
    with_covers: dict[str, list[str]],
    without: dict[str, list[str]],
    relevant: dict[str, set[str]],
    rounds: int,
    seed: int,
) -> dict[str, Any]:
    """Both runs' metrics on the same playlists (those in `relevant`) and their per-playlist
    difference, with how many playlists each run wins: paired, so the playlists' own spread
    (some are easy to continue, some are not) does not hide a small, consistent change."""
    users = sorted(relevant)
    a = ranking_metrics(((with_covers[u], relevant[u]) for u in users), [K])
    b = ranking_metrics(((without[u], relevant[u]) for u in users), [K])
    out: dict[str, Any] = {"n": len(users)}
    for metric in METRICS:
        diff = a[metric] - b[metric]
        out[metric] = {
            "with covers": list(mean_ci(a[metric], rounds=rounds, seed=seed)),
            "without covers": list(mean_ci(b[metric], rounds=rounds, seed=seed)),
            "with - without": [float(diff.mean()), *bootstrap_ci(diff, rounds=rounds, seed=seed)],
            "playlists better / worse": [int((diff > 0).sum()), int((diff < 0).sum())],
        }
    return out


# --- report -------------------------------------------------------------------------------
