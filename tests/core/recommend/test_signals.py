"""The per-modality cosines every candidate carries: the batched computation agrees with the
plain cosine point by point, and a missing vector stays missing."""

from __future__ import annotations

import numpy as np
import pytest

from core.recommend.signals import Similarity
from schemas.vectors import SparseVector, cosine


def test_batched_cosines_match_the_plain_cosine_and_keep_missing_missing() -> None:
    rng = np.random.default_rng(0)
    queries = {
        "audio": rng.normal(size=13).tolist(),
        "lyrics": rng.normal(size=8).tolist(),
        "lyrics_terms": SparseVector((1, 5, 9), (1.0, 0.5, 2.0)),
    }
    points = []
    for i in range(30):
        point = {"audio": rng.normal(size=13).tolist()}
        if i % 3:
            point["lyrics"] = rng.normal(size=8).tolist()
            point["lyrics_terms"] = SparseVector((5, 9, 11 + i), (1.0, float(i), 0.3))
        points.append(point)
    batched = Similarity(queries).many(points)
    assert len(batched) == len(points)
    for point, sims in zip(points, batched, strict=True):
        assert list(sims) == list(queries)
        for name, q in queries.items():
            if name in point:
                assert sims[name] == pytest.approx(cosine(q, point[name]), abs=1e-6)
            else:
                assert sims[name] is None
    assert Similarity(queries)(points[1]) == batched[1]
    assert Similarity(queries).many([]) == []
