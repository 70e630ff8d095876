"""The linked-covers measurement's comparison and report (docs/evaluation.md section 7): the
paired with/without comparison on a hand case, the report with the exact-id and name links
apart and each part's command, and `scripts/eval_covers.py --linked` keeping the part it did
not measure (the two parts are separate runs that write one JSON and one section)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaluation.protocols.linked_covers import LINKED, LINKED_BLOCK, paired_comparison
from evaluation.report.blocks import read_block
from evaluation.report.linked_covers import report
from scripts import eval_covers

WITH = {"u1": ["a", "b"], "u2": ["c", "x"], "u3": ["y"]}
WITHOUT = {"u1": ["x", "y"], "u2": ["c", "x"], "u3": ["z"]}
RELEVANT = {"u1": {"a"}, "u2": {"c"}, "u3": {"q"}}


def test_the_comparison_is_paired_per_playlist() -> None:
    out = paired_comparison(WITH, WITHOUT, RELEVANT, rounds=200, seed=7)
    assert out["n"] == 3
    p10 = out["P@10"]
    assert p10["with covers"][0] == pytest.approx(0.2 / 3)  # hits: u1 and u2, one each in 10
    assert p10["without covers"][0] == pytest.approx(0.1 / 3)  # u2 only
    assert p10["with - without"][0] == pytest.approx(0.1 / 3)
    assert p10["playlists better / worse"] == [1, 0]  # u1 better; u2, u3 tied
    assert out["HR@10"]["with - without"][0] == pytest.approx(1 / 3)


def measured(args: str, **part: object) -> dict[str, object]:
    """A part as `run_linked` stores it: its numbers, its command and the load around it."""
    command = f"python scripts/eval_covers.py {args}"
    return {**part, "command": command, "load before": "1.0 1.0", "load after": "2.0 2.0"}


def retrieval_numbers() -> dict[str, object]:
    block = {
        "queries": 4,
        "P@k": {"CNN": [0.2, 0.1, 0.3], "random neighbours": [0.1, 0.0, 0.2]},
        "CNN minus": {"random neighbours": [0.1, 0.02, 0.18]},
    }
    return measured(
        args="--linked --skip-continuation",
        covers=5,
        genres={"rock": 3, "soul": 2},
        encoders={"CNN": "efficientnet_lite0-imagenet"},
        k=10,
        **{"all covers": block, "other artists' covers": block},
    )


def continuation_numbers() -> dict[str, object]:
    comparison = paired_comparison(WITH, WITHOUT, RELEVANT, rounds=200, seed=7)
    flat = paired_comparison(WITHOUT, WITHOUT, RELEVANT, rounds=200, seed=7)
    facts = {"playlists": 3, "covered tracks": 9, "ranker rounds": 12}
    return measured(
        args="--linked --skip-retrieval",
        seed=7,
        k=10,
        seconds=360,
        conditions={
            "id": {**facts, "all hidden tracks": comparison, "hidden covered tracks": comparison},
            "name": {**facts, "all hidden tracks": flat, "hidden covered tracks": comparison},
        },
        **{"catalog tracks": 1234, "without covers": {"ranker rounds": 30}},
    )


def test_the_report_has_both_parts_with_the_link_sets_apart() -> None:
    numbers = {"seed": 7, "bootstrap": 200, "retrieval": retrieval_numbers(),
               "continuation": continuation_numbers()}  # fmt: skip
    text = report(numbers)
    assert "| all covers | 4 | 0.2000 [0.1000, 0.3000] | 0.1000 [0.0000, 0.2000] |" in text
    assert "`python scripts/eval_covers.py --linked --skip-continuation`" in text
    assert "`python scripts/eval_covers.py --linked --skip-retrieval` (6 min, load" in text
    assert "the catalog is all 1,234 tracks" in text
    for links in ("id", "name"):
        for relevance in ("all hidden tracks", "hidden covered tracks"):
            assert f"| {links} | {relevance} | 3 | P@10 |" in text
    name = "* name links: on all hidden tracks (3 playlists) NDCG@10 no significant difference"
    assert name in text
    assert "* id links:" in text and "* without covers: ranker rounds 30" in text
    assert "Two runs of the same command give close but not identical numbers" in text


def test_a_run_of_one_part_keeps_the_other(tmp_path: Path) -> None:
    """What `--skip-retrieval` (or a re-render with both parts skipped) writes: the JSON's
    other part kept, and section 7 rewritten from both, the rest of the report untouched."""
    shared = tmp_path / "shared"
    (shared / LINKED).mkdir(parents=True)
    (shared / LINKED / "albums.csv").write_text("album_id,album_genre,artist\n")
    docs = tmp_path / "docs"
    docs.mkdir()
    out = docs / "evaluation.md"
    stale = read_block(out, LINKED_BLOCK, "Not measured yet.")
    out.write_text(f"# Evaluation\n\n## 7. Real covers\n\n{stale}\n\n## Caveats\n")
    numbers = {"seed": 7, "bootstrap": 200, "retrieval": retrieval_numbers(),
               "continuation": continuation_numbers()}  # fmt: skip
    (docs / "covers-evaluation.json").write_text(json.dumps(numbers))
    argv = ["--linked", "--skip-retrieval", "--skip-continuation", "--seed", "7",
            "--bootstrap", "200", "--shared", str(shared), "--out", str(out)]  # fmt: skip
    eval_covers.main(argv)
    assert json.loads((docs / "covers-evaluation.json").read_text()) == numbers
    text = out.read_text()
    assert text.startswith("# Evaluation\n\n## 7. Real covers\n\n")
    assert text.endswith("\n\n## Caveats\n")
    block = read_block(out, LINKED_BLOCK, "")
    assert "Not measured yet" not in block
    assert "**(a) Retrieval by album genre.**" in block
    assert "**(b) Playlist continuation with and without covers.**" in block
