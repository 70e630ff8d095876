"""The interaction-store contract: every database must pass these same tests.

A test class per database inherits `InteractionStoreContract` and provides the `url`
fixture (a fresh, empty database); the guarantees are written once.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from core.interactions.database import DatabaseError, current_revision, head_revision, upgrade
from core.interactions.online import log_recommendations, online_stats
from core.interactions.store import Interaction, ServedList, SqlInteractionStore
from core.recommend.results import Personalization, RankedTrack, Recommendation
from schemas.tracks import Track

T0 = datetime(2026, 1, 10, 12, 0, 0)


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


class InteractionStoreContract:
    @pytest.fixture
    def store(self, url):
        store = SqlInteractionStore.open(url)
        yield store
        store.close()

    def test_schema_is_at_head_after_open(self, store) -> None:
        assert current_revision(store.engine) == head_revision()
        assert upgrade(store.engine) == (head_revision(), head_revision())

    def test_recent_is_newest_first_distinct_and_capped(self, store) -> None:
        store.record(
            [
                Interaction("u1", "a", event_time=at(0)),
                Interaction("u1", "b", event_time=at(1)),
                Interaction("u1", "a", event_time=at(2)),  # listened again: newest now
                Interaction("u2", "z", event_time=at(3)),
            ]
        )
        store.record([Interaction("u1", "c")])  # no time: now, newer than all of T0's
        assert store.recent("u1") == ["c", "a", "b"]
        assert store.recent("u1", 2) == ["c", "a"]
        assert store.recent("nobody") == []

    def test_a_second_handle_sees_a_committed_event_at_once(self, store, url) -> None:
        other = SqlInteractionStore.open(url)
        try:
            assert other.recent("u1") == []
            store.record([Interaction("u1", "a")])
            assert other.recent("u1") == ["a"]
        finally:
            other.close()

    def test_retried_event_ids_add_nothing(self, store) -> None:
        batch = [Interaction("u1", t, event_id=f"e{t}") for t in "abc"]
        first = store.record(batch)
        assert (first.recorded, first.duplicates) == (3, 0)
        again = store.record([*batch, Interaction("u1", "d", event_id="ed")])
        assert (again.recorded, again.duplicates) == (1, 3)
        # The same event id from another user is another event; no id never deduplicates.
        other = store.record([Interaction("u2", "a", event_id="ea"), Interaction("u1", "a")])
        assert other.recorded == 2
        assert store.record([Interaction("u1", "a")]).recorded == 1
        assert store.count_events() == 7

    def test_a_batch_is_all_or_nothing(self, store) -> None:
        store.record([Interaction("u1", "a")])
        broken = [Interaction("u1", "b"), Interaction("u1", None)]  # type: ignore[arg-type]
        with pytest.raises(Exception, match=r"(?i)null"):
            store.record(broken)
        assert store.count_events() == 1
        assert store.recent("u1") == ["a"]

    def test_unicode_ids_and_times_round_trip(self, store) -> None:
        user, track = "ñandú 🎧 " + "x" * 100, "t" * 128
        cet = timezone(timedelta(hours=1))
        store.record([Interaction(user, track, 2.5, "like", datetime(2026, 1, 1, 13, tzinfo=cet))])
        frame = store.training_frame()
        assert frame["user_id"].tolist() == [user]
        assert frame["track_id"].tolist() == [track]
        assert frame["weight"].tolist() == [2.5]
        assert frame["timestamp"].tolist() == [datetime(2026, 1, 1, 12)]  # stored as UTC

    def test_users_most_tracks_first(self, store) -> None:
        store.record(
            [Interaction("few", "a")]
            + [Interaction("many", t) for t in "abc"]
            + [Interaction("many", "a"), Interaction("mid", "a"), Interaction("mid", "b")]
        )
        assert store.users(10) == [("many", 3), ("mid", 2), ("few", 1)]
        assert store.users(1, offset=1) == [("mid", 2)]
        assert store.count_users() == 3

    def test_concurrent_writers_lose_nothing(self, store) -> None:
        errors: list[BaseException] = []

        def write(worker: int) -> None:
            try:
                for i in range(25):
                    events = [
                        Interaction(f"w{worker}", f"t{i}", event_id=f"{i}-{j}") for j in (0, 1)
                    ]
                    store.record(events)
                    store.record(events)  # a retry
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(w,)) for w in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert store.count_events() == 6 * 25 * 2

    def test_hit_rate_counts_top10_tracks_within_the_window(self, store) -> None:
        day = T0.date().isoformat()
        tracks = [f"t{i}" for i in range(15)]
        for n, user in enumerate(["hit", "late", "deep", "early", "none"]):
            store.log_served(ServedList(f"r{n}", user, tracks, model_version="m1", served_at=T0))
        store.log_served(ServedList("r9", "hit", tracks[:5], model_version=None, served_at=T0))
        store.record(
            [
                Interaction("hit", "t3", event_time=at(1)),  # top 10, inside 7 days
                Interaction("late", "t3", event_time=at(8)),  # outside the window
                Interaction("deep", "t12", event_time=at(1)),  # rank 12: not in the top 10
                Interaction("early", "t3", event_time=at(-1)),  # before it was served
            ]
        )
        rows = online_stats(store, window_days=7, since=at(-2), catalog_size=40)
        by_model = {r.model_version: r for r in rows}
        assert set(by_model) == {"m1", "content-only"}
        m1 = by_model["m1"]
        assert (m1.day, m1.requests, m1.users, m1.hits) == (day, 5, 5, 1)
        assert m1.hit_rate == pytest.approx(0.2)
        assert (m1.distinct_tracks, m1.coverage) == (10, 0.25)
        assert by_model["content-only"].hits == 1  # the same listen hits that request too
        assert online_stats(store, window_days=10, since=at(-2))[1].hits == 2
        assert online_stats(store, window_days=7, since=at(1)) == []

    def test_log_recommendations_returns_a_request_id(self, store) -> None:
        items = [
            RankedTrack(track=Track(id=t, name=t, artists=[]), score=1.0, similarities={})
            for t in "ab"
        ]
        result = Recommendation(
            items=items,
            fusion="rrf",
            modalities=[],
            weights={},
            personalization=Personalization(user_id="u", status="applied", model_version="m"),
        )
        request_id = log_recommendations(store, "u", result, offset=10)
        assert request_id
        with store.engine.connect() as conn:
            ranks = conn.execute(
                text(
                    "SELECT rank, track_id, model_version FROM served_items "
                    "JOIN served USING (request_id) WHERE request_id = :r ORDER BY rank"
                ),
                {"r": request_id},
            ).all()
        assert [tuple(r) for r in ranks] == [(10, "a", "m"), (11, "b", "m")]

    def test_a_schema_newer_than_the_code_is_refused(self, store, url) -> None:
        with store.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = 'from-the-future'"))
        with pytest.raises(DatabaseError, match="newer code"):
            SqlInteractionStore.open(url)

    def test_concurrent_first_upgrades_both_succeed(self, url) -> None:
        results: list[object] = []

        def open_once() -> None:
            try:
                SqlInteractionStore.open(url).close()
                results.append("ok")
            except BaseException as exc:
                results.append(exc)

        threads = [threading.Thread(target=open_once) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == ["ok"] * 3, results

    def test_times_are_utc(self, store) -> None:
        before = datetime.now(UTC).replace(tzinfo=None)
        store.record([Interaction("u", "a")])
        stored = store.training_frame()["timestamp"].iloc[0]
        assert before - timedelta(seconds=5) <= stored <= before + timedelta(seconds=5)
