"""The tie-stable cut (`core.recommend.ties`): an engine that returns exact ties in a new
order on every call, and cuts inside a tie group as it likes, still gives one answer."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from core.recommend.ties import stable_top
from core.store import ScoredRecord


def engine(scores: dict[str, float], rng: random.Random):
    """The best `limit` hits, ties shuffled before the cut (as the engine's RRF does)."""

    def fetch(limit: int) -> list[ScoredRecord]:
        ids = list(scores)
        rng.shuffle(ids)
        ids.sort(key=lambda t: -scores[t])  # stable: ties keep the shuffled order
        return [ScoredRecord(f"p-{t}", scores[t], {"track_id": t}) for t in ids[:limit]]

    return fetch


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(
        st.sampled_from([1 / 61, 1 / 62, 1 / 63, 2 / 63, 0.5]), min_size=1, max_size=80
    ),
    n=st.integers(1, 30),
    offset=st.integers(0, 10),
    seed=st.integers(0, 10**6),
)
def test_the_cut_is_the_same_in_every_call(values, n, offset, seed) -> None:
    scores = {f"t{i:03d}": v for i, v in enumerate(values)}
    expected = sorted(scores, key=lambda t: (-scores[t], t))[offset : offset + n]
    rng = random.Random(seed)
    for _ in range(3):
        got = stable_top(engine(scores, rng), n, offset)
        assert [h.payload["track_id"] for h in got] == expected


def test_a_tie_group_wider_than_the_margin_is_fetched_whole() -> None:
    scores = {f"t{i:03d}": (1.0 if i < 3 else 0.5) for i in range(200)}  # 197 tied at the cut
    asked: list[int] = []
    fetch = engine(scores, random.Random(0))

    def counting(limit: int) -> list[ScoredRecord]:
        asked.append(limit)
        return fetch(limit)

    got = stable_top(counting, 5)
    assert [h.payload["track_id"] for h in got] == ["t000", "t001", "t002", "t003", "t004"]
    assert len(asked) > 1 and asked[-1] >= 200  # widened until the group was whole
