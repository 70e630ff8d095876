"""Every endpoint over real HTTP (uvicorn on 127.0.0.1) against a real indexed collection."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from api.main import create_app
from tests.conftest import LiveServer, make_settings, slice_rows

HEADER, ROWS = slice_rows()
LYRIC_ROWS = [r for r in ROWS if r["lyrics"].strip()]
BY_ID = {r["id"]: r for r in ROWS}


def recommend(api, **body):
    return api.post("/recommendations", json=body)


def test_health(api) -> None:
    body = api.get("/health").json()
    assert body["status"] == "ok"
    assert body["engine"] == "edge"
    assert body["points"] == len(ROWS)
    assert body["encoders"]["lyrics"].startswith("sentence-transformers/all-MiniLM-L6-v2")


def test_get_track(api) -> None:
    row = LYRIC_ROWS[0]
    body = api.get(f"/tracks/{row['id']}").json()
    assert body["id"] == row["id"]
    assert body["name"] == row["name"]
    assert body["has_lyrics"] is True
    missing = api.get("/tracks/does-not-exist")
    assert missing.status_code == 404
    assert "does-not-exist" in missing.json()["detail"]


def test_recommendations_explain_each_modality_and_exclude_seeds(api) -> None:
    seeds = [LYRIC_ROWS[0]["id"], LYRIC_ROWS[1]["id"]]
    body = recommend(api, positive=seeds, limit=15).json()
    assert body["modalities"] == ["lyrics", "lyrics_terms", "audio"]
    assert body["fusion"] == "rrf"
    ids = [i["track"]["id"] for i in body["items"]]
    assert len(ids) == 15 == len(set(ids))
    assert not set(ids) & set(seeds)
    for item in body["items"]:
        sims = item["similarities"]
        assert set(sims) == {"lyrics", "lyrics_terms", "audio"}
        assert -1.0 <= sims["audio"] <= 1.0
        has_lyrics = bool(BY_ID[item["track"]["id"]]["lyrics"].strip())
        assert (sims["lyrics"] is not None) is has_lyrics
        assert (sims["lyrics_terms"] is not None) is has_lyrics
    scores = [i["score"] for i in body["items"]]
    assert scores == sorted(scores, reverse=True)


def test_weights_select_modalities_and_change_the_order(api) -> None:
    seed = LYRIC_ROWS[3]["id"]
    audio_only = recommend(
        api, positive=[seed], weights={"lyrics": 0, "lyrics_terms": 0}, limit=10
    ).json()
    assert audio_only["modalities"] == ["audio"]
    sims = [i["similarities"]["audio"] for i in audio_only["items"]]
    assert sims == sorted(sims, reverse=True)  # one modality: ranked by its own similarity
    lyrics_heavy = recommend(api, positive=[seed], weights={"lyrics": 10, "audio": 0.1}).json()
    top = lyrics_heavy["items"][0]["similarities"]
    assert top["lyrics"] is not None
    assert [i["track"]["id"] for i in lyrics_heavy["items"]] != [
        i["track"]["id"] for i in audio_only["items"]
    ]


def test_negative_seeds_push_results_away(api) -> None:
    pos, neg = LYRIC_ROWS[0]["id"], LYRIC_ROWS[1]["id"]
    dense_lyrics = {"audio": 0, "lyrics_terms": 0}
    plain = recommend(api, positive=[pos], weights=dense_lyrics, limit=10).json()
    steered = recommend(api, positive=[pos], negative=[neg], weights=dense_lyrics, limit=10).json()
    assert neg not in [i["track"]["id"] for i in steered["items"]]
    assert [i["track"]["id"] for i in plain["items"]] != [
        i["track"]["id"] for i in steered["items"]
    ]


def test_filters(api) -> None:
    seed = LYRIC_ROWS[0]["id"]
    body = recommend(
        api,
        positive=[seed],
        filters={"year_min": 1980, "year_max": 1999, "explicit": False},
        limit=50,
    ).json()
    assert body["items"]
    for item in body["items"]:
        assert 1980 <= item["track"]["year"] <= 1999
        assert item["track"]["explicit"] is False
    genre = next(r["genre"] for r in ROWS if r["genre"])
    by_genre = recommend(api, positive=[seed], filters={"genres": [genre]}, limit=50).json()
    assert by_genre["items"]
    assert {i["track"]["genre"] for i in by_genre["items"]} == {genre}
    artist = body["items"][0]["track"]["artists"][0]
    without = recommend(api, positive=[seed], filters={"exclude_artists": [artist]}, limit=50)
    assert all(artist not in i["track"]["artists"] for i in without.json()["items"])


def test_pagination_is_consistent(api) -> None:
    seed = LYRIC_ROWS[2]["id"]
    full = recommend(api, positive=[seed], limit=20).json()["items"]
    page = recommend(api, positive=[seed], limit=10, offset=10).json()["items"]
    assert [i["track"]["id"] for i in page] == [i["track"]["id"] for i in full[10:]]


def test_empty_result_is_a_valid_answer(api) -> None:
    body = recommend(api, positive=[LYRIC_ROWS[0]["id"]], filters={"genres": ["no-such-genre"]})
    assert body.status_code == 200
    assert body.json()["items"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"positive": []}, "positive"),
        ({"positive": ["a"], "limit": 0}, "limit"),
        ({"positive": ["a"], "limit": 1000}, "limit"),
        ({"positive": ["a"], "weights": {"smell": 1}}, "weights"),
        ({"positive": ["a"], "weights": {"audio": -1}}, "weights"),
        ({"positive": ["a"], "filters": {"year_min": 2000, "year_max": 1990}}, "filters"),
        ({"positive": ["a"], "negative": ["a"]}, "negative"),
    ],
)
def test_invalid_requests_name_the_field(api, body, field) -> None:
    response = api.post("/recommendations", json=body)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert any(
        field in loc or field in err["msg"] for err in detail for loc in map(str, err["loc"])
    )


def test_unknown_seeds_are_named(api) -> None:
    response = recommend(api, positive=[LYRIC_ROWS[0]["id"], "nope-1"], negative=["nope-2"])
    assert response.status_code == 404
    assert response.json()["unknown_ids"] == ["nope-1", "nope-2"]


def test_search_finds_songs_from_a_lyric_line(api) -> None:
    """Quality smoke test on real billboard lyrics: a line from a song finds that song."""
    found = 0
    songs = LYRIC_ROWS[:20]
    for row in songs:
        words = row["lyrics"].split()
        line = " ".join(words[len(words) // 2 : len(words) // 2 + 10])  # ten words mid-song
        items = api.get("/search", params={"q": line, "limit": 5}).json()["items"]
        found += row["id"] in [i["track"]["id"] for i in items]
    assert found >= 0.7 * len(songs), f"only {found}/{len(songs)} songs found by a lyric line"


def rare_word_line(lyrics: str, vocabulary: Counter[str]) -> str | None:
    """A short window of the song around a word no other song of the slice uses."""
    words = lyrics.split()
    for i, word in enumerate(words):
        token = word.strip(".,!?\"'()").lower()
        if len(token) >= 7 and token.isalpha() and vocabulary[token] == 1:
            return " ".join(words[max(0, i - 3) : i + 4])
    return None


def test_a_rare_word_finds_its_song_through_the_sparse_path(api) -> None:
    """BM25 alone (dense weight 0): a lyric line with a word unique in the catalog."""
    vocabulary: Counter[str] = Counter()
    for row in LYRIC_ROWS:
        vocabulary.update({w.strip(".,!?\"'()").lower() for w in row["lyrics"].split()})
    tried = found = 0
    for row in LYRIC_ROWS:
        line = rare_word_line(row["lyrics"], vocabulary)
        if line is None:
            continue
        tried += 1
        params = {"q": line, "limit": 3, "lyrics_weight": 0}
        body = api.get("/search", params=params).json()
        assert set(body["items"][0]["similarities"]) == {"lyrics_terms"}
        found += body["items"][0]["track"]["id"] == row["id"]
    assert tried >= 10
    assert found >= 0.9 * tried, f"{found}/{tried} songs found by a rare word"


def test_search_weights_switch_lyrics_paths(api) -> None:
    q = "love me tender"
    fused = api.get("/search", params={"q": q}).json()["items"][0]["similarities"]
    assert set(fused) == {"lyrics", "lyrics_terms"}
    dense = api.get("/search", params={"q": q, "terms_weight": 0}).json()["items"][0]
    assert set(dense["similarities"]) == {"lyrics"}
    off = api.get("/search", params={"q": q, "terms_weight": 0, "lyrics_weight": 0})
    assert off.status_code == 400


def test_search_validation_and_filters(api) -> None:
    assert api.get("/search", params={"q": ""}).status_code == 422
    assert api.get("/search", params={"q": "love", "limit": 500}).status_code == 422
    body = api.get("/search", params={"q": "love", "year_max": 1985, "limit": 20}).json()
    assert body["modality"] == "lyrics"
    assert all(i["track"]["year"] <= 1985 for i in body["items"])


def test_missing_collection_is_503_and_health_says_why(tmp_path) -> None:
    """...without naming the server's directories (the detail keeps the last path part)."""
    with LiveServer(create_app(make_settings(tmp_path))) as client:
        health = client.get("/health")
        assert health.status_code == 503
        assert "musicrec index" in health.json()["detail"]
        assert "musicrec train" in health.json()["collaborative"]["detail"]
        response = client.post("/recommendations", json={"positive": ["x"]})
        assert response.status_code == 503
        assert "musicrec index" in response.json()["detail"]
        for text in (health.text, response.text):
            assert str(tmp_path) not in text and "/qdrant/" not in text, text


def test_unreachable_qdrant_server_is_503_with_retry_after(tmp_path) -> None:
    from tests.conftest import free_port

    settings = make_settings(
        tmp_path, qdrant_url=f"http://127.0.0.1:{free_port()}", qdrant_timeout=2
    )
    with LiveServer(create_app(settings)) as client:
        started = time.monotonic()
        response = client.post("/recommendations", json={"positive": ["x"]})
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "5"
        assert time.monotonic() - started < 10
        assert client.get("/health").status_code == 503


def test_query_filters_are_validated_like_body_filters(api) -> None:
    empty_genre = api.get("/search", params={"q": "love", "genre": ""})
    assert empty_genre.status_code == 422
    assert empty_genre.json()["detail"][0]["loc"][:2] == ["query", "genre"]
    reversed_years = api.get("/search", params={"q": "love", "year_min": 2000, "year_max": 1990})
    assert reversed_years.status_code == 422
    assert "year_min" in reversed_years.json()["detail"][0]["msg"]


@pytest.mark.parametrize("budget_mb", [None, 0])
def test_the_api_preloads_its_shard_files_at_start_up(indexed_dir, tmp_path, budget_mb) -> None:
    """In the background, within the budget (unset: half the available memory; 0: never),
    while it already answers."""
    import shutil

    data_dir = tmp_path / "data"
    shutil.copytree(indexed_dir, data_dir)
    app = create_app(make_settings(data_dir, preload_store_mb=budget_mb))
    with LiveServer(app) as client:
        assert client.get("/health").status_code == 200
        deadline = time.monotonic() + 30
        while (done := app.state.resources.preloaded) is None and time.monotonic() < deadline:
            time.sleep(0.05)
    shard_files = sorted(p for p in (data_dir / "qdrant" / "tracks").rglob("*") if p.is_file())
    size = sum(p.stat().st_size for p in shard_files)
    assert done is not None and done.size == size and done.files == len(shard_files)
    if budget_mb is None:
        assert (done.read, done.skipped) == (size, None)
    else:
        assert done.read == 0 and done.skipped and "over the budget of 0 MiB" in done.skipped
