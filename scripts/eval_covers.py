"""Does the cover encoder put covers of one genre together? Genre retrieval on real covers.

Each of the 500 Discogs covers queries its 10 nearest other covers (cosine); P@10 is the share
of those with the query's genre. Genre is a weak, noisy proxy for "looks alike", so the number
to compare is the random baseline, not 1.0.

    python scripts/eval_covers.py --encoder cnn
    python scripts/eval_covers.py --encoder cnn --pipeline   # + HTTP fetch/decode/embed speed

With --linked it measures the real covers linked to tracks instead (`evaluation.protocols.
linked_covers`): (a) album-genre retrieval, CNN vs open_clip with random weights vs random,
and (b) playlist continuation with and without the covers (a ranker trained for each), links
by album id and by name apart; it writes section 7 of docs/evaluation.md and the numbers to
docs/covers-evaluation.json:

    python scripts/eval_covers.py --linked --shared ../shared/data --threads 2
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import logging
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import evaluation.protocols.linked_covers as linked  # noqa: E402
import evaluation.report.linked_covers as linked_report  # noqa: E402
from core.encoders.base import Encoder  # noqa: E402
from core.encoders.cover import ClipCoverEncoder, CnnCoverEncoder  # noqa: E402
from core.files import atomic_write  # noqa: E402
from evaluation.datasets import load_covers  # noqa: E402
from evaluation.metrics import bootstrap_ci  # noqa: E402
from evaluation.protocols.covers import genre_precision, random_precision  # noqa: E402
from evaluation.report.blocks import write_block  # noqa: E402
from evaluation.report.markdown import dump_json  # noqa: E402
from indexer.covers import CoverFetcher, embed_covers  # noqa: E402


def build_encoder(args: argparse.Namespace) -> Encoder[Image.Image]:
    if args.encoder == "clip":
        return ClipCoverEncoder(
            args.clip_model, args.clip_checkpoint, batch_size=args.batch_size, device=args.device
        )
    return CnnCoverEncoder(batch_size=args.batch_size, device=args.device)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serve_directory(directory: Path) -> Iterator[str]:
    """A local stand-in for a cover CDN, on an ephemeral port."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def run_pipeline(
    args: argparse.Namespace,
    encoder: Encoder[Image.Image],
    files: list[str],
    images: list[Image.Image],
    raw: np.ndarray,
) -> None:
    """Raw encoder and pipeline timed in alternation, so machine load hits both alike."""
    n = min(args.speed_sample, len(files))
    timings: dict[str, list[float]] = {"raw": [], "fetch": [], "cold": [], "warm": []}
    # The covers are served on loopback, which the fetcher refuses unless allowed.
    fetch = {"max_concurrency": args.concurrency, "allowed_networks": ["127.0.0.1/32"]}
    with serve_directory(args.covers) as base, tempfile.TemporaryDirectory() as tmp:
        urls = [base + name for name in files[:n]]
        for round_ in range(args.rounds):
            start = time.perf_counter()
            encoder.encode(images[:n])
            timings["raw"].append(time.perf_counter() - start)
            with CoverFetcher(Path(tmp) / f"fetch{round_}", **fetch) as f:
                start = time.perf_counter()
                fetched = f.fetch_many(urls)
                timings["fetch"].append(time.perf_counter() - start)
            with CoverFetcher(Path(tmp) / f"embed{round_}", **fetch) as f:
                start = time.perf_counter()
                cold, errors = embed_covers(urls, f, encoder, args.batch_size)
                timings["cold"].append(time.perf_counter() - start)
                start = time.perf_counter()
                embed_covers(urls, f, encoder, args.batch_size)
                timings["warm"].append(time.perf_counter() - start)
    failed = sum(result.error is not None for result in fetched.values()) + len(errors)
    pipeline = np.stack([cold[url] for url in urls])
    labels = {
        "raw": "raw encoder on decoded images",
        "fetch": "fetch+validate only, cold cache",
        "cold": "fetch+decode+embed, cold cache",
        "warm": "decode+embed, warm cache (re-run)",
    }
    print(
        f"\npipeline over http://127.0.0.1, {n} covers x {args.rounds} interleaved rounds "
        f"(concurrency {args.concurrency}, batch {args.batch_size}); images/s median [min, max]"
    )
    for key, label in labels.items():
        rates = sorted(n / seconds for seconds in timings[key])
        print(f"  {label:<36} {np.median(rates):8.1f} [{rates[0]:.1f}, {rates[-1]:.1f}]")
    ratio = sorted(r / c for r, c in zip(timings["raw"], timings["cold"], strict=True))
    print(f"  cold pipeline / raw encoder throughput, per round: {[round(x, 2) for x in ratio]}")
    print(f"  failures: {failed}; max |pipeline - raw| = {np.abs(pipeline - raw[:n]).max():.2e}")


def run_linked(args: argparse.Namespace, command: str) -> None:
    """(a) and/or (b) on covers_linked/; each part's numbers (with its command and the load)
    replace that part in docs/covers-evaluation.json, then section 7 of docs/evaluation.md is
    written from the whole JSON, so the parts can be measured by separate runs."""
    json_out = args.out.with_name("covers-evaluation.json")
    numbers: dict = {"seed": args.seed, "bootstrap": args.bootstrap}
    torch.manual_seed(args.seed)  # the random-weight CLIP: the same network every run
    measuring = not (args.skip_retrieval and args.skip_continuation)  # else: re-render only
    cnn = CnnCoverEncoder(batch_size=args.batch_size, device=args.device) if measuring else None

    def measured(part: dict) -> dict:
        return {**part, "command": command, "load before": load, "load after": _load()}

    if not args.skip_retrieval:
        load = _load()
        clip = ClipCoverEncoder(
            args.clip_model, None, batch_size=args.batch_size, device=args.device
        )
        assert cnn is not None
        encoders = {"CNN": cnn, "CLIP (random weights)": clip}
        part = linked.retrieval(
            args.shared, encoders, k=args.k, seed=args.seed, bootstrap=args.bootstrap
        )
        numbers["retrieval"] = measured(part)
    if not args.skip_continuation:
        load, started = _load(), time.perf_counter()
        assert cnn is not None
        part = linked.continuation(
            args.shared, cnn, seed=args.seed, threads=args.threads, bootstrap=args.bootstrap
        )
        numbers["continuation"] = measured(
            {**part, "seconds": round(time.perf_counter() - started)}
        )
    # Read now, not at the start: another run may have written the other part meanwhile.
    if json_out.is_file():
        numbers = {**json.loads(json_out.read_text(encoding="utf-8")), **numbers}
    atomic_write(json_out, (dump_json(numbers) + "\n").encode("utf-8"))
    text = linked_report.report(numbers)
    print(text)
    write_block(args.out, linked.LINKED_BLOCK, text)
    print(f"wrote section 7 of {args.out} and {json_out}")


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--covers", type=Path, default=REPO_ROOT.parent / "shared/data/covers")
    parser.add_argument("--encoder", choices=["cnn", "clip"], default="cnn")
    parser.add_argument("--clip-model", default="ViT-B-32")
    parser.add_argument("--clip-checkpoint", type=Path, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--bootstrap", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pipeline", action="store_true", help="also time the HTTP pipeline")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--speed-sample", type=int, default=160, help="covers per timing round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--linked", action="store_true", help="the covers linked to tracks")
    parser.add_argument("--shared", type=Path, default=REPO_ROOT.parent / "shared/data")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "evaluation.md")
    parser.add_argument("--threads", type=int, default=1, help="LightFM / LightGBM threads")
    parser.add_argument("--skip-retrieval", action="store_true")
    parser.add_argument("--skip-continuation", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.linked:
        if not (args.shared / linked.LINKED / "albums.csv").is_file():
            parser.error(f"no {linked.LINKED}/albums.csv under {args.shared}")
        command = "python scripts/eval_covers.py " + " ".join(argv or sys.argv[1:])
        run_linked(args, command)
        return

    if args.rounds < 1 or args.speed_sample < 1:
        parser.error("--rounds and --speed-sample must be >= 1")
    if not (args.covers / "covers.csv").is_file():
        parser.error(f"no covers.csv under {args.covers}")
    files, genre_list = load_covers(args.covers)
    genres = np.array(genre_list)
    images = [Image.open(args.covers / name).convert("RGB") for name in files]
    encoder = build_encoder(args)

    encoder.encode(images[: args.batch_size])  # warm-up: first batch pays allocator set-up
    start, cpu_start = time.perf_counter(), time.process_time()
    vectors = encoder.encode(images)
    encode_s, cpu_s = time.perf_counter() - start, time.process_time() - cpu_start
    embeddings = np.stack([v for v in vectors if v is not None])
    if len(embeddings) != len(images):
        raise SystemExit(f"encoder declined {len(images) - len(embeddings)} covers")
    raw_rate = len(images) / encode_s

    per_query = genre_precision(embeddings, genre_list, args.k)
    low, high = bootstrap_ci(per_query, rounds=args.bootstrap, seed=args.seed)
    counts = {genre: int((genres == genre).sum()) for genre in sorted(set(genre_list))}
    expected = random_precision(genre_list)

    print(f"encoder {encoder.encoder_id} ({encoder.dim}-d), {len(images)} covers, {counts}")
    print(
        f"P@{args.k} = {per_query.mean():.4f}  "
        f"95% bootstrap CI [{low:.4f}, {high:.4f}] ({args.bootstrap} resamples of the queries, "
        f"seed {args.seed})"
    )
    print(f"random baseline: 1/{len(counts)} = {1 / len(counts):.4f}; exact {expected:.4f}")
    for genre in counts:
        print(f"  {genre:<12} P@{args.k} = {per_query[genres == genre].mean():.4f}")
    print(
        f"raw encoder: {raw_rate:.1f} images/s, {1000 * cpu_s / len(images):.0f} CPU-ms/image "
        f"(batch {args.batch_size}, preprocessing included, {torch.get_num_threads()} threads)"
    )

    if args.pipeline:
        run_pipeline(args, encoder, files, images, embeddings)


if __name__ == "__main__":
    main()
