"""The catalog reader on the committed demo sample, a real TidyTuesday slice and broken files."""

from __future__ import annotations

import csv
import itertools
import logging
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from PIL import Image

from indexer import track_row
from indexer.catalog import (
    CatalogError,
    CatalogStats,
    RowError,
    detect_schema,
    read_catalog,
)
from schemas.layout import AUDIO_CATALOG_FEATURES
from schemas.tracks import KAGGLE_AUDIO_COLUMNS, Track
from tests.conftest import DEMO_TRACKS, SHARED_DATA

DEMO = DEMO_TRACKS.parent
TIDY = SHARED_DATA / "tidytuesday_spotify_songs.csv"
needs_shared = pytest.mark.skipif(
    not TIDY.is_file(), reason=f"real shared data not available at {TIDY}"
)

HEADER = (
    "id,name,album_name,artists,danceability,energy,key,loudness,mode,speechiness,"
    "acousticness,instrumentalness,liveness,valence,tempo,duration_ms,lyrics"
)
# danceability..duration_ms in Kaggle column order (key=5, mode=1).
AUDIO = "0.5,0.6,5,-7.0,1,0.05,0.1,0.0,0.1,0.5,120.0,200000"
NO_AUDIO = "," * 11


def audio(**overrides: str) -> str:
    names = KAGGLE_AUDIO_COLUMNS
    values = dict(zip(names, AUDIO.split(","), strict=True))
    values.update(overrides)
    return ",".join(values[n] for n in names)


def read_all(path: Path, **kwargs) -> tuple[list[Track], list[RowError], CatalogStats]:
    errors: list[RowError] = []
    stats = CatalogStats()
    tracks = [
        t
        for chunk in read_catalog(path, on_error=errors.append, stats=stats, **kwargs)
        for t in chunk
    ]
    return tracks, errors, stats


def write(tmp_path: Path, text: str, name: str = "catalog.csv", newline: str = "\n") -> Path:
    path = tmp_path / name
    path.write_bytes(text.replace("\n", newline).encode("utf-8"))
    return path


# --- the committed demo sample (must never skip) -------------------------------------------


def test_demo_sample_reads_completely() -> None:
    path = DEMO / "tracks.csv"
    with path.open(newline="", encoding="utf-8") as fh:
        csv.field_size_limit(10 * 1024 * 1024)
        expected_ids = [row["id"] for row in csv.DictReader(fh)]

    tracks, errors, stats = read_all(path)

    assert errors == []
    assert stats.rows == stats.accepted == len(expected_ids) == len(tracks)
    assert [t.id for t in tracks] == expected_ids
    assert sum(t.lyrics is not None for t in tracks) >= 500
    assert all(t.audio is not None and set(t.audio) == set(AUDIO_CATALOG_FEATURES) for t in tracks)
    assert all(0 <= t.audio["key"] <= 11 and t.audio["mode"] in (0, 1) for t in tracks if t.audio)
    assert all(t.artists for t in tracks if t.name)
    assert "0 rejected" in stats.summary()


def test_demo_sample_is_small_and_interactions_reference_tracks() -> None:
    size = sum(p.stat().st_size for p in DEMO.iterdir() if p.is_file())
    assert size < 4 * 1024 * 1024
    track_ids = {t.id for chunk in read_catalog(DEMO / "tracks.csv") for t in chunk}
    with (DEMO / "interactions.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and {r["track_id"] for r in rows} <= track_ids
    assert {r["weight"] for r in rows} == {"1"}


def test_demo_covers_are_the_ones_the_catalog_names_small_jpegs() -> None:
    tracks = [t for chunk in read_catalog(DEMO / "tracks.csv") for t in chunk]
    named = {unquote(urlsplit(t.album_url).path) for t in tracks if t.album_url}
    files = sorted((DEMO / "covers").iterdir())
    assert len([t for t in tracks if t.album_url]) >= 900
    assert named == {str(f.resolve()) for f in files}  # none missing, none unused
    for file in files:
        with Image.open(file) as image:
            assert image.format == "JPEG" and max(image.size) <= 128, file.name
    assert sum(f.stat().st_size for f in files) < 3 * 1024 * 1024


def test_chunking_yields_every_row_once() -> None:
    chunks = list(read_catalog(DEMO / "tracks.csv", chunk_size=7))
    sizes = [len(c) for c in chunks]
    assert all(1 <= n <= 7 for n in sizes)
    assert all(n == 7 for n in sizes[:-1])
    ids = [t.id for c in chunks for t in c]
    assert len(ids) == len(set(ids))
    assert ids == [t.id for c in read_catalog(DEMO / "tracks.csv", chunk_size=10_000) for t in c]


def test_progress_sums_to_file_size() -> None:
    path = DEMO / "tracks.csv"
    seen: list[int] = []
    for _ in read_catalog(path, chunk_size=100, on_progress=seen.append):
        pass
    assert len(seen) > 1 and all(n > 0 for n in seen)
    assert sum(seen) == path.stat().st_size


# --- a real TidyTuesday slice through the column mapping -----------------------------------


@needs_shared
def test_tidytuesday_slice_reports_playlist_duplicates(tmp_path: Path) -> None:
    with TIDY.open("rb") as fh:
        head = b"".join(itertools.islice(fh, 1500))
    path = tmp_path / "tidy.csv"
    path.write_bytes(head)
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        first: dict[str, int] = {}
        expected_dups = []
        for row in reader:
            tid = row["track_id"]
            if tid in first:
                expected_dups.append((reader.line_num, tid, first[tid]))
            else:
                first[tid] = reader.line_num
    assert expected_dups, "the slice should contain tracks repeated across playlists"

    tracks, errors, stats = read_all(path)

    assert detect_schema(head.split(b"\n", 1)[0].decode().split(",")) == "tidytuesday"
    assert [(e.line, e.track_id) for e in errors] == [(ln, tid) for ln, tid, _ in expected_dups]
    for error, (_, _, first_line) in zip(errors, expected_dups, strict=True):
        assert f"first seen on line {first_line}" in error.reason
    assert stats.rejected == {"duplicate id": len(expected_dups)}
    assert len(tracks) == len(first) == stats.accepted
    t = tracks[0]
    assert t.id == "6f807x0ima9a1j3VPbc7VN"
    assert t.artists == ["Ed Sheeran"]
    assert t.genre == "pop" and t.popularity == 66
    assert t.release_date == "2019-06-14" and t.year == 2019
    assert t.audio is not None and t.audio["key"] == 6.0 and t.audio["tempo"] == 122.036


# --- hand-written broken files -------------------------------------------------------------

BROKEN = "\n".join(
    [
        HEADER,  # 1
        f"t1,Song One,,['A'],{AUDIO},\"first line\nsecond, line\nthird\"",  # 2-4
        f",Nameless,,['A'],{AUDIO},",  # 5
        f't2,Song Two,Album,"[\'B\', ""C\'d""]",{AUDIO},"verse\n""quoted"" chorus"',  # 6-7
        f"t3,Bad Tempo,,['A'],{audio(tempo='abc')},",  # 8
        f"t4,Not A Number,,['A'],{audio(energy='NaN')},",  # 9
        f"t1,Again,,['A'],{AUDIO},\"dup\nlyrics\nhere\"",  # 10-12
        "t5,Short,,['A'],0.5",  # 13
        f"t6,Partial,,['A'],{audio(danceability='', energy='')},",  # 14
        f"t7,No Audio,,['A'],{NO_AUDIO},   ",  # 15
        f"t8,Named Key,,['A'],{audio(key='C#', mode='minor')},\"la\"",  # 16
    ]
)


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_bad_rows_are_reported_with_exact_lines(tmp_path: Path, newline: str) -> None:
    path = write(tmp_path, BROKEN + "\n", newline=newline)

    tracks, errors, stats = read_all(path)

    assert [(e.line, e.track_id) for e in errors] == [
        (5, None),
        (8, "t3"),
        (9, "t4"),
        (10, "t1"),
        (13, "t5"),
        (14, "t6"),
    ]
    reasons = [e.reason for e in errors]
    assert "missing" in reasons[0] and "'id'" in reasons[0]
    assert reasons[1] == "field 'tempo': cannot parse 'abc' as a number"
    assert "field 'energy'" in reasons[2] and "finite" in reasons[2]
    assert "first seen on line 2" in reasons[3]
    assert "expected 17, got 5" in reasons[4]
    assert "danceability, energy" in reasons[5]
    assert stats.rejected == {
        "missing id": 1,
        "bad number": 2,
        "duplicate id": 1,
        "wrong column count": 1,
        "partial audio": 1,
    }
    assert stats.rows == 10 and stats.accepted == 4

    by_id = {t.id: t for t in tracks}
    assert list(by_id) == ["t1", "t2", "t7", "t8"]
    assert by_id["t1"].name == "Song One"  # the first occurrence wins
    assert by_id["t1"].lyrics.replace("\r\n", "\n") == "first line\nsecond, line\nthird"
    assert by_id["t2"].artists == ["B", "C'd"] and by_id["t2"].album_name == "Album"
    assert by_id["t1"].album_name is None
    assert by_id["t7"].audio is None and by_id["t7"].lyrics is None
    assert by_id["t8"].audio["key"] == 1.0 and by_id["t8"].audio["mode"] == 0.0
    assert set(by_id["t1"].audio) == set(AUDIO_CATALOG_FEATURES)
    assert by_id["t1"].audio["duration_ms"] == 200000.0


@pytest.mark.parametrize(
    ("key", "mode", "want_key", "want_mode"),
    [
        ("C", "major", 0, 1),
        ("C#", "Minor", 1, 0),
        ("Db", "Major", 1, 1),
        ("B", "1.0", 11, 1),
        ("Cb", "0", 11, 0),
        ("F♯", "min", 6, 0),
        ("5.0", "1", 5, 1),
        ("11", "0.0", 11, 0),
    ],
)
def test_string_key_and_mode(
    tmp_path: Path, key: str, mode: str, want_key: int, want_mode: int
) -> None:
    path = write(tmp_path, f"{HEADER}\nk,Key,,['A'],{audio(key=key, mode=mode)},\n")
    tracks, errors, _ = read_all(path)
    assert errors == []
    assert tracks[0].audio["key"] == want_key and tracks[0].audio["mode"] == want_mode


@pytest.mark.parametrize(("key", "mode"), [("12", "1"), ("-1", "1"), ("H", "1"), ("5", "2")])
def test_impossible_key_or_mode_is_rejected(tmp_path: Path, key: str, mode: str) -> None:
    path = write(tmp_path, f"{HEADER}\nk,Key,,['A'],{audio(key=key, mode=mode)},\n")
    tracks, errors, _ = read_all(path)
    assert tracks == []
    assert len(errors) == 1 and errors[0].line == 2
    assert ("'key'" if key != "5" else "'mode'") in errors[0].reason


@pytest.mark.parametrize(
    ("cell", "want"),
    [
        ("\"['HELLYEAH']\"", ["HELLYEAH"]),
        ('"[\'A\', ""B\'c""]"', ["A", "B'c"]),
        ("\"['A', '', ' B ']\"", ["A", "B"]),
        ("Plain Name", ["Plain Name"]),
        ('"AC/DC, Live"', ["AC/DC, Live"]),
        ("[broken", ["[broken"]),
        ("[]", []),
        ("", []),
        (
            "\"[__import__('os').system('echo pwned')]\"",
            ["[__import__('os').system('echo pwned')]"],
        ),
    ],
)
def test_artists_literal_variants(tmp_path: Path, cell: str, want: list[str]) -> None:
    path = write(tmp_path, f"{HEADER}\na,Name,,{cell},{AUDIO},\n")
    tracks, errors, _ = read_all(path)
    assert errors == []
    assert tracks[0].artists == want


def test_optional_columns(tmp_path: Path) -> None:
    text = (
        "id,name,popularity,year,genre,explicit,release_date,album_url,lyrics\n"
        "a,A,55,,rock,TRUE,1999-05-01,http://x/a.jpg,\n"
        "b,B,,2001,,no,,,  \n"
        "c,C,12.0,,,maybe,March 1987,,text\n"
        "d,D,1.5,,,,,,\n"
    )
    tracks, errors, _ = read_all(write(tmp_path, text))
    a, b, c = tracks
    assert (a.popularity, a.year, a.genre, a.explicit) == (55, 1999, "rock", True)
    assert a.album_url == "http://x/a.jpg" and a.audio is None and a.lyrics is None
    assert (b.popularity, b.year, b.genre, b.explicit, b.release_date) == (
        None,
        2001,
        None,
        False,
        None,
    )
    assert b.lyrics is None
    assert (c.popularity, c.year, c.explicit, c.lyrics) == (12, None, None, "text")
    assert [(e.line, e.track_id) for e in errors] == [(5, "d")]
    assert "field 'popularity'" in errors[0].reason


def test_no_audio_columns_is_fine_but_no_id_is_not(tmp_path: Path) -> None:
    tracks, errors, _ = read_all(write(tmp_path, "id,name\nx,Only Name\n"))
    assert errors == [] and tracks[0].audio is None and tracks[0].name == "Only Name"

    with pytest.raises(CatalogError, match=r"'id'.*'track_id'"):
        read_catalog(write(tmp_path, "name,artists\nx,y\n", name="noid.csv"))


def test_whole_file_problems_raise(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="not found"):
        read_catalog(tmp_path / "missing.csv")
    with pytest.raises(CatalogError, match="empty"):
        read_catalog(write(tmp_path, "", name="empty.csv"))
    kaggle = write(tmp_path, f"{HEADER}\na,A,,['x'],{AUDIO},\n")
    with pytest.raises(CatalogError, match="track_id"):
        read_catalog(kaggle, schema="tidytuesday")
    with pytest.raises(CatalogError, match="unknown catalog schema"):
        read_catalog(kaggle, schema="nope")
    with pytest.raises(CatalogError, match="lacks"):
        read_catalog(write(tmp_path, "id,danceability,energy\na,0.1,0.2\n", name="half.csv"))


def test_detect_schema() -> None:
    assert detect_schema(["id", "name"]) == "kaggle"
    assert detect_schema([" ID ", "name"]) == "kaggle"
    assert detect_schema(["track_id", "track_name"]) == "tidytuesday"
    with pytest.raises(CatalogError):
        detect_schema(["name", "artists"])


def test_nul_bytes_latin1_and_bom_are_tolerated_and_latin1_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "dirty.csv"
    path.write_bytes(
        b'\xef\xbb\xbfid,name,lyrics\na,Caf\xe9 \x00Bar,"la\x00la\nla"\nb,Ok,\nc,Caf\xc3\xa9,\n'
    )
    with caplog.at_level(logging.WARNING, logger="indexer.catalog"):
        tracks, errors, stats = read_all(path)
    assert errors == []
    assert [t.id for t in tracks] == ["a", "b", "c"]
    # The latin-1 line is read as latin-1 (not mangled into U+FFFD), the UTF-8 one as UTF-8.
    assert tracks[0].name == "Café Bar" and tracks[0].lyrics == "lala\nla"
    assert tracks[2].name == "Café"
    assert stats.not_utf8 == 1 and "1 lines not UTF-8" in stats.summary()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "line 2: not valid UTF-8" in warnings[0]


def test_ids_with_nul_or_control_characters_are_rejected_never_stripped(tmp_path: Path) -> None:
    """`bad-nul\\0-id` was indexed as `bad-nul-id` (a collision with a real id), and an id
    with U+001C was indexed although the API refuses it as a seed."""
    path = tmp_path / "ids.csv"
    path.write_bytes(b"id,name\nbad-nul-id,Real\nbad-nul\x00-id,Fake\nsep\x1cid,Sep\nok,Na\x00me\n")
    tracks, errors, _ = read_all(path)
    assert [t.id for t in tracks] == ["bad-nul-id", "ok"]
    assert tracks[1].name == "Name"  # free text loses the NUL, an id is never changed
    assert [e.line for e in errors] == [3, 4]
    assert "field 'id'" in errors[0].reason and "U+0000" in errors[0].reason
    assert "field 'id'" in errors[1].reason and "U+001C" in errors[1].reason


def test_too_large_field_is_rejected_and_reading_continues(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(track_row, "MAX_FIELD_BYTES", 1000)
    big = "word " * 400
    path = write(tmp_path, f'id,name,lyrics\na,A,"{big}\n{big}"\nb,B,ok\n')
    tracks, errors, stats = read_all(path)
    assert [t.id for t in tracks] == ["b"]
    assert [(e.line, e.track_id) for e in errors] == [(2, "a")]
    assert "field 'lyrics'" in errors[0].reason
    assert stats.rejected == {"field too large": 1}


def test_blank_lines_are_skipped_without_shifting_line_numbers(tmp_path: Path) -> None:
    path = write(tmp_path, "id,name,popularity\n\na,A,1\n\n\nb,B,x\n")
    tracks, errors, stats = read_all(path)
    assert [t.id for t in tracks] == ["a"]
    assert [(e.line, e.track_id) for e in errors] == [(6, "b")]
    assert stats.rows == 2


# --- hostile values (issue 17, items 3 and 4) ------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "column"),
    [
        ("tempo", "1e308", "tempo"),
        ("tempo", "-5", "tempo"),
        ("danceability", "1.5", "danceability"),
        ("energy", "-0.1", "energy"),
        ("loudness", "-100", "loudness"),
        ("loudness", "40", "loudness"),
        ("duration_ms", "0", "duration_ms"),
        ("duration_ms", "1e300", "duration_ms"),
    ],
)
def test_audio_values_out_of_range_reject_the_row_naming_line_and_field(
    tmp_path: Path, field: str, value: str, column: str
) -> None:
    text = (
        f"{HEADER}\ngood1,A,,x,{AUDIO},\nbad,B,,x,{audio(**{field: value})},\ngood2,C,,x,{AUDIO},\n"
    )
    tracks, errors, stats = read_all(write(tmp_path, text))
    assert [t.id for t in tracks] == ["good1", "good2"]
    assert [(e.line, e.track_id) for e in errors] == [(3, "bad")]
    assert f"field '{column}'" in errors[0].reason and "plausible range" in errors[0].reason
    assert stats.rejected == {"out of range": 1}


def test_popularity_year_and_id_limits(tmp_path: Path) -> None:
    next_year = datetime.now(UTC).year + 1
    long_id = "x" * 10_000
    text = (
        "id,name,popularity,year,release_date\n"
        "ok,A,100,1900,\n"  # 2
        "pop,B,1e30,2000,\n"  # 3
        "neg,C,-1,2000,\n"  # 4
        "old,D,5,1899,\n"  # 5
        "future,E,5,{},\n"  # 6
        f"{long_id},F,5,2000,\n"  # 7
        "edge,G,0,{},\n"  # 8
        "date,H,5,,0000-01-01\n"  # 9: an implausible date leaves the year unknown
        "id128,I,5,2000,\n"  # 10
    ).format(next_year + 1, next_year)
    text = text.replace("id128", "y" * 128)
    tracks, errors, _ = read_all(write(tmp_path, text))
    assert [t.id for t in tracks] == ["ok", "edge", "date", "y" * 128]
    assert tracks[2].year is None and tracks[2].release_date == "0000-01-01"
    by_line = {e.line: e for e in errors}
    assert sorted(by_line) == [3, 4, 5, 6, 7]
    for line, name in [(3, "popularity"), (4, "popularity"), (5, "year"), (6, "year")]:
        assert f"field '{name}'" in by_line[line].reason
    assert "10000 characters" in by_line[7].reason and "128" in by_line[7].reason
    assert by_line[7].track_id == long_id


# --- unterminated quotes (issue 17, item 8) ---------------------------------------------------


def test_an_unterminated_quote_does_not_swallow_the_rest_of_the_file(tmp_path: Path) -> None:
    rows = [f"t{i},Song {i},,x,{AUDIO}," for i in range(10)]
    rows[2] = f't2,"Broken name,,x,{AUDIO},'  # the quote never closes
    tracks, errors, stats = read_all(write(tmp_path, HEADER + "\n" + "\n".join(rows) + "\n"))
    assert [t.id for t in tracks] == [f"t{i}" for i in range(10) if i != 2]  # resynchronised
    assert [(e.line, e.track_id) for e in errors] == [(4, "t2")]
    assert "spanning 8 lines" in errors[0].reason
    assert stats.rows == 10 and stats.accepted == 9


def test_lines_swallowed_that_are_not_rows_are_counted(tmp_path: Path) -> None:
    """The broken record's own lyric lines cannot parse as rows: they are skipped, counted."""
    lines = [
        HEADER,
        f"a,A,,x,{AUDIO},fine",  # 2
        f'b,"B,,x,{AUDIO},verse one',  # 3: the name's quote is closed only on line 7
        "verse two",  # 4
        "verse three",  # 5
        f"c,C,,x,{AUDIO},ok",  # 6
        f'd,D,,x,{AUDIO},"two',  # 7: properly quoted multi-line lyrics
        'lines"',  # 8
    ]
    tracks, errors, stats = read_all(write(tmp_path, "\n".join(lines) + "\n"))
    assert [t.id for t in tracks] == ["a", "c", "d"]
    assert tracks[2].lyrics == "two\nlines"
    assert [(e.line, e.track_id) for e in errors] == [(3, "b")]
    assert "lines 4-5 (2 lines)" in errors[0].reason and "unterminated quote" in errors[0].reason
    assert stats.rejected == {"wrong column count": 1}
