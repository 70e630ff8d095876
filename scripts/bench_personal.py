"""Personalised recommendations at catalog scale: the learned ranker against the linear blend.

    python scripts/bench_personal.py --workdir /tmp/musicrec-bench --size 160000

1. Builds (or reuses) the `bench` collection bench_query.py builds, in the same cached
   directory (<workdir>/g2-n<size>-m…): the product's Settings(data_dir=<that directory>,
   collection="bench") open it, with the models and the interaction database beside it.
2. Generates synthetic interactions over its track ids (scripts/bench/interactions.py says
   how; seeded, history lengths from the real TidyTuesday playlists) into
   <directory>/interactions-u<users>-s<seed>.csv, and records them in the data dir's
   database with the product's importer (`musicrec interactions import`), so serving reads a
   user's history from the database as it does in production. Re-running imports nothing new;
   another --users or --interaction-seed replaces the database and the models.
3. Trains LightFM and the learned ranker through `musicrec train`'s own code
   (jobs.train.fit_and_publish) on every interaction in the database, over the
   catalog rebuilt from the collection's payloads. Always retrains (so a changed ranker is
   measured after a merge); the collection and the interactions stay cached.
4. Runs scripts/bench_api.py on the directory (`--bench-users 0` skips it and prints the
   command): the linear blend and the learned ranker on the same users, interleaved.

The interactions are synthetic: latency and training time are what this measures, not
recommendation quality.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench import COLLECTION, ROOT, SHARED
from bench.collection import add_build_arguments, build, collection_tag
from bench.corpus import real_corpus
from bench.interactions import (
    InteractionParams,
    describe,
    generate_interactions,
    playlist_lengths,
)
from bench.machine import load_text

from core.artefacts import read_pointer
from core.collab.artefact import load_latest
from core.files import atomic_write
from core.interactions.factory import open_interaction_store, training_interactions
from core.interactions.files import InteractionStats
from core.interactions.importer import import_file
from core.recommend.rankers.artefact import POINTER
from core.recommend.rankers.artefact import load as load_ranker
from core.store import open_store
from jobs.train import collection_tracks, fit_and_publish
from schemas.settings import Settings, load_settings
from schemas.tracks import Track


def catalog(settings: Settings) -> list[Track]:
    """The collection's tracks, back from their payloads (what `musicrec train` reads from
    the catalog CSV)."""
    store = open_store(settings)
    try:
        return collection_tracks(store)
    finally:
        store.close()  # the embedded shard has one owner: the ranker's training opens it next


def record_interactions(
    settings: Settings, tracks: list[Track], params: InteractionParams, path: Path
) -> None:
    """Generate (once, cached in `path`) and import into the database (idempotent).

    The database holds one interaction set: another one (other --users or seed) replaces it
    and the models trained on it, so training never mixes two synthetic populations."""
    database = path.parent / "musicrec.db"
    if settings.database_url != f"sqlite:///{database}":
        raise SystemExit(f"expected the data dir's database {database}: {settings.database_url}")
    marker = path.parent / "interactions-in-database.txt"
    if database.exists() and (not marker.exists() or marker.read_text() != path.name):
        print(f"replacing the database's interactions and models with {path.name}", flush=True)
        for stale in path.parent.glob("musicrec.db*"):
            stale.unlink()
        shutil.rmtree(settings.model_dir, ignore_errors=True)
    if not path.exists():
        frame = generate_interactions(
            [t.id for t in tracks],
            [t.artists[0] if t.artists else None for t in tracks],
            [t.genre for t in tracks],
            params,
            playlist_lengths(SHARED / "tidytuesday_spotify_songs.csv"),
        )
        atomic_write(path, frame.to_csv(index=False).encode())
    store = open_interaction_store(settings)
    try:
        started = time.perf_counter()
        recorded = import_file(store, path)
        print(
            f"imported {path.name}: {recorded.recorded} new events, {recorded.duplicates} "
            f"already stored ({time.perf_counter() - started:.0f} s)",
            flush=True,
        )
    finally:
        store.close()
    marker.write_text(path.name)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    add_build_arguments(parser)
    parser.add_argument("--size", type=int, default=160_000)
    parser.add_argument("--users", type=int, default=InteractionParams.users)
    parser.add_argument("--interaction-seed", type=int, default=InteractionParams.seed)
    parser.add_argument(
        "--bench-users", type=int, default=150, help="bench_api --users; 0: print the command"
    )
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    directory = args.workdir / collection_tag(args.size, args)
    stats = build(directory, args.size, real_corpus(args.workdir, args.real_lyrics), args)
    print(f"collection {directory}: {json.dumps(stats)}", flush=True)
    settings = load_settings(data_dir=directory, collection=COLLECTION)

    tracks = catalog(settings)
    params = InteractionParams(users=args.users, seed=args.interaction_seed)
    path = directory / f"interactions-u{params.users}-s{params.seed}.csv"
    record_interactions(settings, tracks, params, path)
    known = {t.id for t in tracks}
    read = InteractionStats()
    events = training_interactions(settings, known_track_ids=known, stats=read)
    counts = describe(events)
    print(f"interactions (synthetic, {params}): {json.dumps(counts)}", flush=True)

    load_before_training = load_text()
    started = time.perf_counter()
    fit_and_publish(settings, tracks, events, settings.model_dir, print)
    trained = time.perf_counter() - started
    collab = load_latest(settings.model_dir)
    ranker_name = read_pointer(settings.model_dir, POINTER)
    if collab is None or ranker_name is None:
        raise SystemExit(f"training published no LightFM model or ranker in {settings.model_dir}")
    ranker = load_ranker(settings.model_dir / ranker_name)
    result = {
        "directory": str(directory),
        "tracks": len(tracks),
        "interactions": counts,
        "params": vars(params),
        "lightfm_s": collab.metadata["train_seconds"],
        "ranker_s": ranker.metadata["train_seconds"],
        "ranker_counts": ranker.metadata["counts"],
        "train_total_s": round(trained, 1),
        "load": [load_before_training, load_text()],
    }
    print(f"training: {json.dumps(result)}", flush=True)
    (directory / f"personal-{int(time.time())}.json").write_text(json.dumps(result, indent=1))

    command = [
        sys.executable,
        str(ROOT / "scripts" / "bench_api.py"),
        *("--data-dir", str(directory), "--collection", COLLECTION),
        *("--requests", str(args.requests), "--concurrency", str(args.concurrency)),
        *("--users", str(args.bench_users or 150)),
    ]
    if not args.bench_users:
        print("measure with:\n  " + " ".join(command[1:]).replace(str(ROOT) + "/", ""))
        return
    subprocess.run(command, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})


if __name__ == "__main__":
    main()
