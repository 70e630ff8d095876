"""Catalog CSVs in, catalog CSVs out: Spotify metadata fills the gaps before `musicrec index`.

The data flow stays one way (catalog → encoders → Qdrant): enrichment never touches the store,
it writes a new catalog that the indexer then reads like any other. Rows are copied field by
field, so lyrics, audio features and every unknown column come out as they went in; only empty
metadata cells are filled, never present ones, which makes a second run a no-op (and, with the
client's cache, one that makes no request).
"""

from __future__ import annotations

import collections
import contextlib
import csv
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.csvio import csv_reader, decoded_lines
from core.files import atomic_writer
from indexer.catalog import CatalogError, detect_schema
from schemas.tracks import KAGGLE_COLUMNS

if TYPE_CHECKING:  # the `spotify` extra
    from core.spotify.client import SpotifyClient

__all__ = [
    "ENRICHED_FIELDS",
    "KAGGLE_COLUMNS",
    "EnrichReport",
    "FetchReport",
    "enrich_catalog",
    "fetch_new_tracks",
]

ENRICHED_FIELDS = ("album_name", "album_url", "popularity", "year", "explicit", "release_date")
CHUNK_ROWS = 500  # rows looked up together: 10 batched track requests, bounded memory


@dataclass
class EnrichReport:
    rows: int = 0
    enriched: int = 0  # rows with at least one cell filled
    filled: collections.Counter[str] = field(default_factory=collections.Counter)
    not_found: int = 0  # rows with gaps whose id Spotify does not know
    copied_unparsed: int = 0  # rows with a wrong column count or no id, copied as they were
    http_requests: int = 0

    def summary(self) -> str:
        filled = ", ".join(f"{n} {name}" for name, n in sorted(self.filled.items())) or "nothing"
        return (
            f"{self.rows} rows: {self.enriched} enriched (filled {filled}); "
            f"{self.not_found} unknown to Spotify; {self.copied_unparsed} copied unparsed; "
            f"{self.http_requests} HTTP requests"
        )


@dataclass
class FetchReport:
    written: int = 0
    not_found: list[str] = field(default_factory=list)
    http_requests: int = 0

    def summary(self) -> str:
        missing = f" ({len(self.not_found)} ids unknown to Spotify)" if self.not_found else ""
        return f"wrote {self.written} tracks{missing}; {self.http_requests} HTTP requests"


def enrich_catalog(
    in_path: str | Path, out_path: str | Path, client: SpotifyClient
) -> EnrichReport:
    """Copy a Kaggle-schema catalog to `out_path`, filling empty metadata cells from Spotify.

    Columns the input lacks among ENRICHED_FIELDS are appended. `out_path` is replaced
    atomically, so it may be `in_path` itself.
    """
    in_path = Path(in_path)
    if not in_path.is_file():
        raise CatalogError(f"catalog file not found: {in_path}")
    report = EnrichReport()
    requests_before = client.http_requests
    with in_path.open("rb") as src:
        reader = csv_reader(decoded_lines(src))
        header = next(reader, None)
        if not header or detect_schema(header) != "kaggle":
            raise CatalogError(f"{in_path}: enrich reads Kaggle-schema catalogs (an 'id' column)")
        columns = {name.strip().lower(): i for i, name in enumerate(header)}
        added = [f for f in ENRICHED_FIELDS if f not in columns]
        out_header = [*header, *added]
        columns.update({name: len(header) + i for i, name in enumerate(added)})
        with _atomic_csv(out_path) as out:
            out.writerow(out_header)
            try:
                for chunk in _chunks(reader, CHUNK_ROWS):
                    out.writerows(_enrich_rows(chunk, len(header), columns, added, client, report))
            except csv.Error as exc:
                raise CatalogError(f"{in_path}, line {reader.line_num}: {exc}") from exc
    report.http_requests = client.http_requests - requests_before
    return report


def _enrich_rows(
    rows: list[list[str]],
    width: int,
    columns: dict[str, int],
    added: list[str],
    client: SpotifyClient,
    report: EnrichReport,
) -> list[list[str]]:
    id_at = columns["id"]
    gaps: dict[int, list[str]] = {}
    for n, row in enumerate(rows):
        report.rows += 1
        if len(row) != width or not row[id_at].strip():
            report.copied_unparsed += 1  # the indexer rejects it with its line number
            continue
        row.extend("" for _ in added)
        empty = [f for f in ENRICHED_FIELDS if not row[columns[f]].strip()]
        if empty:
            gaps[n] = empty
    found = client.tracks(rows[n][id_at].strip() for n in gaps)
    for n, empty in gaps.items():
        row = rows[n]
        track = found[row[id_at].strip()]
        if track is None:
            report.not_found += 1
            continue
        meta = client.track_metadata(track)
        filled = [f for f in empty if f in meta]
        for name in filled:
            row[columns[name]] = _cell(meta[name])
        report.filled.update(filled)
        report.enriched += bool(filled)
    return rows


def fetch_new_tracks(
    client: SpotifyClient,
    *,
    track_ids: Sequence[str] = (),
    playlist_id: str | None = None,
    query: str | None = None,
    limit: int = 50,
    out_path: str | Path,
) -> FetchReport:
    """Write a Kaggle-schema catalog of tracks from ids, a playlist and/or a search.

    Metadata only: no audio features and no lyrics (Spotify does not serve them to new apps),
    so the indexer gives these tracks the vectors their metadata allows (a cover) and adds them
    to a collection whose audio scaler was fitted on a catalog with audio features.
    """
    if not (track_ids or playlist_id or query):
        raise ValueError("give track ids, a playlist id or a search query")
    report = FetchReport()
    requests_before = client.http_requests
    ids = list(track_ids)
    if playlist_id:
        ids += client.playlist_track_ids(playlist_id)
    if query:
        ids += client.search_track_ids(query, limit)
    with _atomic_csv(out_path) as out:
        out.writerow(KAGGLE_COLUMNS)
        for track_id, track in client.tracks(ids).items():
            if track is None:
                report.not_found.append(track_id)
                continue
            meta = {"id": track_id, **client.track_metadata(track)}
            out.writerow([_cell(meta.get(column)) for column in KAGGLE_COLUMNS])
            report.written += 1
    report.http_requests = client.http_requests - requests_before
    return report


def _cell(value: Any) -> str:
    """Kaggle spelling: artists as a Python list literal, booleans as True/False."""
    if value is None:
        return ""
    if isinstance(value, list):
        return repr([str(v) for v in value])
    return str(value)


def _chunks(rows: Iterable[list[str]], size: int) -> Iterator[list[list[str]]]:
    chunk: list[list[str]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@contextlib.contextmanager
def _atomic_csv(path: str | Path) -> Iterator[Any]:
    """A csv writer on a temporary file that replaces `path` only when the block succeeds, so
    an interrupted run never leaves a half-written catalog behind."""
    with atomic_writer(path, "w", encoding="utf-8", newline="") as fh:
        yield csv.writer(fh, lineterminator="\n")
