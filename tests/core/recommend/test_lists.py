"""The kept personal lists on a real engine, a real SQLite database and a trained LightFM and
ranker: a kept page is the page the pipeline answers; a new event, a new model or ranker, a
deleted track, a database that cannot say and the list's age each send the request back
through the pipeline; requests that are not the default one are never kept."""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, replace

import pytest

from core.artefacts import Fixed
from core.interactions.database import DatabaseUnavailableError
from core.interactions.store import Interaction, SqlInteractionStore
from core.recommend.errors import UnknownUserError
from core.recommend.lists import PersonalLists
from core.recommend.results import Recommendation
from schemas.api import Filters
from schemas.tracks import point_id
from tests.core.recommend.rankers import test_learned
from tests.core.recommend.sources.test_contract import interactions

USERS = sorted(interactions()["user_id"].unique())
# The ranker tests' world, built again for this module: a points store on the embedded
# engine, LightFM and a ranker trained on it.
store = test_learned.store
trained = test_learned.trained


@pytest.fixture
def history(tmp_path):
    db = SqlInteractionStore.open(f"sqlite:///{tmp_path / 'events.db'}")
    yield db
    db.close()


@pytest.fixture
def recommender(trained, history):
    base, model, artefact = trained
    return replace(
        base, collab=Fixed(model, "lightfm-1"), ranker=Fixed(artefact, "ranker-1"), history=history
    )


def lists_of(recommender, depth: int = 12, size: int = 100, seconds: float = 3600.0):
    return PersonalLists(recommender, size=size, seconds=seconds, depth=depth)


def page(result: Recommendation) -> list[dict]:
    """Everything each result says, its track included."""
    return [asdict(i) for i in result.items]


def test_a_kept_page_is_the_page_the_pipeline_answers(recommender) -> None:
    lists = lists_of(recommender)
    for user in USERS[:4]:
        for offset, limit in ((0, 5), (0, 5), (5, 5), (2, 10), (5, 5)):
            live = recommender.recommend_for_user(user, limit=limit, offset=offset)
            assert live.personalization.ranker == "learned"
            served = lists.recommend_for_user(user, limit=limit, offset=offset)
            assert page(served) == page(live)
            assert served.personalization == live.personalization
    # A request explains up to its page's end: a page past the explained tracks is computed
    # again (explaining more), pages within them are read.
    assert (lists.misses, lists.hits, len(lists)) == (12, 8, 4)
    # Lists computed ahead explain every kept track: any page within the depth is a read.
    assert lists.refresh(USERS[:4]) == 0
    recommender.ranker = Fixed(recommender.ranker.current(), "ranker-2")
    assert lists.refresh(USERS[:4]) == 4
    hits = lists.hits
    for offset, limit in ((5, 7), (0, 5)):
        lists.recommend_for_user(USERS[0], limit=limit, offset=offset)
    assert lists.hits == hits + 2


def test_a_new_event_sends_the_user_back_through_the_pipeline(recommender, history) -> None:
    lists = lists_of(recommender)
    user = USERS[0]
    first = lists.recommend_for_user(user, limit=5)
    played = first.items[0].track.id
    history.record([Interaction(user, played)])
    after = lists.recommend_for_user(user, limit=5)
    assert lists.misses == 2
    assert played not in {i.track.id for i in after.items}  # now excluded
    assert page(after) == page(recommender.recommend_for_user(user, limit=5))
    lists.recommend_for_user(user, limit=5)
    assert (lists.misses, lists.hits) == (2, 1)


def test_a_new_model_or_ranker_is_served_at_once(recommender, trained) -> None:
    _, model, artefact = trained
    lists = lists_of(recommender)
    user = USERS[1]
    lists.recommend_for_user(user, limit=5)
    recommender.ranker = Fixed(artefact, "ranker-2")
    assert lists.recommend_for_user(user, limit=5).personalization.ranker_version == "ranker-2"
    recommender.collab = Fixed(model, "lightfm-2")
    assert lists.recommend_for_user(user, limit=5).personalization.model_version == "lightfm-2"
    assert (lists.misses, lists.hits) == (3, 0)


def test_a_kept_track_deleted_since_is_not_served(recommender, store) -> None:
    lists = lists_of(recommender)
    user = USERS[2]
    kept = lists.recommend_for_user(user, limit=5)
    gone = kept.items[3].track.id
    point = store.retrieve([point_id(gone)], with_vectors=True)
    store.delete([point_id(gone)])
    try:
        again = lists.recommend_for_user(user, limit=5)
        assert gone not in {i.track.id for i in again.items}
        assert (lists.misses, lists.hits) == (2, 0)
    finally:
        store.upsert(point)
    assert store.retrieve([point_id(gone)])


def test_metadata_is_read_at_each_hit(recommender, store) -> None:
    lists = lists_of(recommender)
    user = USERS[3]
    first = lists.recommend_for_user(user, limit=3).items[0].track
    store.set_payload([point_id(first.id)], {"name": "Renamed since"})
    try:
        again = lists.recommend_for_user(user, limit=3)
        assert lists.hits == 1
        assert again.items[0].track.name == "Renamed since"
    finally:
        store.set_payload([point_id(first.id)], {"name": first.name})


def test_requests_other_than_the_default_one_are_never_kept(recommender) -> None:
    lists = lists_of(recommender, depth=10)
    user = USERS[4]
    blend = lists.recommend_for_user(user, limit=5, collab_weight=0.5)
    assert blend.personalization.ranker == "linear-blend"
    lists.recommend_for_user(user, limit=5, filters=Filters(explicit=False))
    deep = lists.recommend_for_user(user, limit=5, offset=6)  # past the depth of 10
    assert page(deep) == page(recommender.recommend_for_user(user, limit=5, offset=6))
    assert (len(lists), lists.misses, lists.hits) == (0, 0, 0)


def test_nothing_is_kept_when_the_database_cannot_say(recommender, history, monkeypatch) -> None:
    def down(*_a, **_k):
        raise DatabaseUnavailableError("the database is down")

    monkeypatch.setattr(history, "recent", down)
    lists = lists_of(recommender)
    for _ in range(2):
        result = lists.recommend_for_user(USERS[5], limit=5)
        assert result.personalization.status == "applied"  # the models still personalise
    assert (len(lists), lists.misses, lists.hits) == (0, 2, 0)


def test_a_list_older_than_its_lifetime_is_computed_again(recommender) -> None:
    lists = lists_of(recommender, seconds=0.5)
    lists.recommend_for_user(USERS[6], limit=5)
    lists.recommend_for_user(USERS[6], limit=5)
    time.sleep(0.6)
    lists.recommend_for_user(USERS[6], limit=5)
    assert (lists.misses, lists.hits) == (2, 1)
    # The refresh computes its users' lists again as they expire.
    assert lists.refresh_after_change(lambda: USERS[:2]) == 2
    assert lists.refresh_after_change(lambda: USERS[:2]) is None
    time.sleep(0.6)
    assert lists.refresh_after_change(lambda: USERS[:2]) == 2


def test_refresh_computes_what_is_not_current_and_stops_when_asked(recommender, trained) -> None:
    _, _, artefact = trained
    lists = lists_of(recommender)
    assert lists.refresh_after_change(lambda: [*USERS, "nobody"]) == len(USERS)  # unknown: skipped
    assert lists.refresh_after_change(lambda: USERS) is None  # nothing changed
    assert lists.refresh(USERS) == 0  # all current
    with pytest.raises(UnknownUserError):
        lists.recommend_for_user("nobody", limit=5)
    recommender.ranker = Fixed(artefact, "ranker-2")
    checks = iter([False, True])  # stop asked after the first user
    assert lists.refresh_after_change(lambda: USERS, stop=lambda: next(checks, True)) == 1
    # A stopped refresh is not complete: the next check finishes it.
    assert lists.refresh_after_change(lambda: USERS) == len(USERS) - 1
    assert all(
        lists.recommend_for_user(u, limit=5).personalization.ranker_version == "ranker-2"
        for u in USERS
    )
    assert lists.hits >= len(USERS)


def test_an_empty_cache_keeps_nothing(recommender) -> None:
    lists = lists_of(recommender, size=0)
    lists.recommend_for_user(USERS[7], limit=5)
    assert lists.refresh(USERS) == 0
    assert (len(lists), lists.misses, lists.hits) == (0, 0, 0)


def test_a_list_computed_across_a_clear_is_not_kept(recommender, monkeypatch) -> None:
    lists = lists_of(recommender)
    compute = recommender.recommend_for_user

    def cleared_meanwhile(*args, **kwargs):
        lists.clear()  # an index job ended while the pipeline ran
        return compute(*args, **kwargs)

    monkeypatch.setattr(recommender, "recommend_for_user", cleared_meanwhile)
    assert lists.recommend_for_user(USERS[8], limit=5).items
    assert (len(lists), lists.misses) == (0, 1)
    monkeypatch.undo()
    lists.recommend_for_user(USERS[8], limit=5)
    assert len(lists) == 1


def test_new_events_recompute_the_kept_list_in_the_background(recommender, history) -> None:
    lists = lists_of(recommender)
    user, other = USERS[9], USERS[10]
    played = lists.recommend_for_user(user, limit=5).items[0].track.id
    history.record([Interaction(user, played), Interaction(other, played)])
    lists.events_recorded([user, other])  # `other` has no kept list: nothing to recompute
    assert lists.recompute_due() == 1
    assert (lists.misses, lists.recomputed_after_events) == (2, 1)
    after = lists.recommend_for_user(user, limit=5)
    assert lists.hits == 1  # a read that already holds the event
    assert played not in {i.track.id for i in after.items}
    assert page(after) == page(recommender.recommend_for_user(user, limit=5))
    assert lists.recompute_due() == 0  # nothing left due

    off = PersonalLists(recommender, size=100, seconds=3600.0, depth=12, after_events=False)
    off.recommend_for_user(user, limit=5)
    off.events_recorded([user])
    assert off.recompute_due() == 0


def test_a_request_during_its_users_computation_waits_for_it(recommender) -> None:
    """One computation per user at a time: the second request reads what the first keeps."""
    lists = lists_of(recommender)
    user = USERS[11]
    compute = recommender.recommend_for_user
    started, go = threading.Event(), threading.Event()
    calls = []

    def held_first(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            started.set()
            assert go.wait(30)
        return compute(*args, **kwargs)

    recommender.recommend_for_user = held_first
    answers: dict[str, Recommendation] = {}
    first = threading.Thread(
        target=lambda: answers.update(a=lists.recommend_for_user(user, limit=5))
    )
    second = threading.Thread(
        target=lambda: answers.update(b=lists.recommend_for_user(user, limit=5))
    )
    first.start()
    assert started.wait(30)
    second.start()
    second.join(0.5)
    assert second.is_alive()  # waiting for the first, not computing on its own
    go.set()
    first.join(30)
    second.join(30)
    assert len(calls) == 1 and (lists.misses, lists.hits) == (1, 1)
    assert page(answers["a"]) == page(answers["b"])
