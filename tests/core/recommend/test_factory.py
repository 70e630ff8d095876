"""The factory is the one place a `Recommender` is built, so the API, `musicrec train`, the
evaluation and the benchmarks all serve and measure the settings' recommender (read with
`ast` from the source, so a call in any function body counts)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from core.recommend.factory import build_recommender
from core.recommend.sources.registry import REGISTRY
from core.store.edge import EdgeStore
from schemas.settings.recommend import RecommendSettings

ROOT = Path(__file__).resolve().parents[3]
FACTORY = ROOT / "core" / "recommend" / "factory.py"


def calls_named(path: Path, name: str) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and (
            (isinstance(node.func, ast.Name) and node.func.id == name)
            or (isinstance(node.func, ast.Attribute) and node.func.attr == name)
        )
    ]


def test_no_recommender_is_built_outside_the_factory() -> None:
    packages = ["schemas", "core", "indexer", "evaluation", "jobs", "api", "cli", "scripts"]
    code = [p for package in packages for p in (ROOT / package).rglob("*.py")]
    assert FACTORY in code and len(code) > 50
    built = [
        f"{p.relative_to(ROOT)}:{line}"
        for p in code
        if p != FACTORY
        for line in calls_named(p, "Recommender")
    ]
    assert built == [], "build the Recommender with core.recommend.factory.build_recommender"
    assert calls_named(FACTORY, "Recommender"), "the factory itself must build it"


def test_the_settings_choose_the_sources_and_their_pools(tmp_path) -> None:
    store = EdgeStore(tmp_path / "q", "factory")
    try:
        settings = RecommendSettings(sources=["artist", "content"], pool_artist=7)
        rec = build_recommender(settings, store)
        assert [(a.spec.name, a.pool) for a in rec.sources] == [
            ("artist", 7),
            ("content", settings.candidate_pool),
        ]
        assert rec.layout.names[:4] == (
            "artist_score",
            "content_score",
            "artist_rank",
            "content_rank",
        )
        everything = build_recommender(RecommendSettings(), store)
        assert [a.spec.name for a in everything.sources] == [s.name for s in REGISTRY]
        assert rec.content.prefetch_limit == settings.prefetch_limit
        for wrong in (["content", "nope"], ["content", "content"], []):
            with pytest.raises(ValueError, match=r"MUSICREC_SOURCES.*registered sources are"):
                build_recommender(RecommendSettings(sources=wrong), store)
    finally:
        store.close()
