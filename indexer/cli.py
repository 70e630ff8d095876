"""`musicrec`: the command line of the indexer side (index a catalog, train the model)."""

from __future__ import annotations

import argparse
import csv
import logging
import sys
from pathlib import Path

from core.store import StoreError
from indexer.catalog import CatalogError, RowError
from indexer.spotify_cli import add_spotify_commands
from schemas.layout import LayoutMismatchError
from schemas.settings import SettingsError, load_settings

SHOWN_ERRORS = 20


class RejectLog:
    """Prints the first problems (rejected rows, failed covers) and, if asked, writes every
    one of them to a CSV, so a million-row run does not flood the terminal."""

    def __init__(self, path: Path | None) -> None:
        self.shown = 0
        self.covers = 0
        self._file = path.open("w", newline="", encoding="utf-8") if path else None
        self._writer = csv.writer(self._file) if self._file else None
        if self._writer:
            self._writer.writerow(["line", "track_id_or_url", "reason"])

    def __call__(self, err: RowError) -> None:
        if self._writer:
            self._writer.writerow([err.line, err.track_id or "", err.reason])
        self._show(f"rejected line {err.line} ({err.track_id or 'no id'}): {err.reason}")

    def cover(self, url: str, reason: str) -> None:
        """A cover that could not be used: its tracks are indexed without a cover vector."""
        if self._writer:
            self._writer.writerow(["", url, f"cover: {reason}"])
        self.covers += 1
        self._show(f"cover {url}: {reason} (its tracks get no cover vector)")

    def _show(self, message: str) -> None:
        if self.shown < SHOWN_ERRORS:
            print(f"  {message}", file=sys.stderr)
        self.shown += 1

    def close(self) -> None:
        if self._file:
            self._file.close()


def cmd_index(args: argparse.Namespace) -> int:
    from core.store import open_store
    from indexer.index_encoders import build_index_encoders
    from indexer.pipeline import Indexer

    settings = load_settings()
    store = open_store(settings)
    rejects = RejectLog(args.rejects)
    encoders = []
    try:
        print(
            f"loading encoders (lyrics: {settings.lyrics_model}, cover: {settings.cover_encoder})",
            file=sys.stderr,
            flush=True,
        )
        encoders = build_index_encoders(settings, on_cover_error=rejects.cover)
        indexer = Indexer(
            store,
            encoders,
            batch_size=args.batch_size or settings.index_batch_size,
            optimize_above=settings.exact_search_below,
            progress=not args.no_progress,
        )
        report = indexer.run(args.path, schema=args.schema, force=args.force, on_error=rejects)
        total = store.count()
    finally:
        for encoder in encoders:
            getattr(encoder, "close", lambda: None)()
        rejects.close()
        store.close()
    if rejects.shown > SHOWN_ERRORS:
        where = f"all in {args.rejects}" if args.rejects else "use --rejects FILE"
        print(f"  … {rejects.shown - SHOWN_ERRORS} more problems ({where})", file=sys.stderr)
    if rejects.covers:
        print(f"  {rejects.covers} cover URLs failed; re-runs retry them", file=sys.stderr)
    print(
        f"{report.summary()}\ncollection '{settings.collection}' ({store.engine}): {total} points"
    )
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from indexer.train_cli import train_main

    return train_main(args.rest)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="musicrec", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    index = sub.add_parser("index", help="index a track catalog CSV into Qdrant")
    index.add_argument("path", type=Path, help="catalog CSV (Kaggle or tidytuesday schema)")
    index.add_argument("--schema", default="auto", choices=["auto", "kaggle", "tidytuesday"])
    index.add_argument("--force", action="store_true", help="re-encode even unchanged tracks")
    index.add_argument("--batch-size", type=int, default=None)
    index.add_argument("--rejects", type=Path, default=None, help="write every problem here")
    index.add_argument("--no-progress", action="store_true")
    index.set_defaults(func=cmd_index)
    train = sub.add_parser(
        "train",
        help="train the LightFM model (see `musicrec train --help`)",
        add_help=False,
    )
    train.set_defaults(func=cmd_train)
    add_spotify_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args, rest = build_parser().parse_known_args(argv)
    if args.command != "train" and rest:
        build_parser().error(f"unrecognized arguments: {' '.join(rest)}")
    args.rest = rest
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    except (CatalogError, LayoutMismatchError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
