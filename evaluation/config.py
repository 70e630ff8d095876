"""The parameters of one evaluation run and the fixed grid it measures.

Only what the run varies lives here; measured numbers never do (they are written to
docs/evaluation.md and docs/evaluation.json by the report).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from schemas.layout import AUDIO, COVER, LYRICS, LYRICS_TERMS

KS = (10, 50)
COLLAB_WEIGHTS = (0.3, 0.5, 0.8, 1.0)
# A wider candidate pool (settings candidate_pool and prefetch_limit) for the hybrid.
WIDE_POOL = 1000
WIDE_WEIGHTS = (0.8, 1.0)
# (dense lyrics, sparse lyrics_terms) weights of the dense+sparse rows.
LYRICS_RATIOS: tuple[tuple[float, float], ...] = ((1.0, 0.0), (0.0, 1.0), (2.0, 1.0), (1.0, 1.0))
LYRICS_RATIOS += ((1.0, 2.0), (1.0, 4.0))
FUSION_ROW = "content fusion (audio + lyrics + terms)"
DEFAULTS_ROW = "default weights (lyrics, lyrics_terms, audio all 1)"
ONLY_AUDIO = {LYRICS: 0.0, LYRICS_TERMS: 0.0, COVER: 0.0, AUDIO: 1.0}


@dataclass(frozen=True)
class Params:
    shared: Path
    out: Path
    img: Path
    cache: Path
    seed: int = 7
    quick: bool = False
    playlists: int | None = None  # evaluate only this many playlists (seeded draw)
    songs: int | None = None  # billboard songs in the lyrics catalog (whole artists)
    covers: int | None = None  # covers per genre
    bootstrap: int = 2000
    threads: int = 1
    skip_covers: bool = False
    ranker: bool = True  # the learned ranker's protocol (evaluation.ranker_run); not in --quick

    @classmethod
    def build(
        cls,
        shared: Path,
        out: Path,
        *,
        img: Path | None = None,
        quick: bool = False,
        playlists: int | None = None,
        songs: int | None = None,
        covers: int | None = None,
        bootstrap: int = 2000,
        **rest: object,
    ) -> Params:
        """`quick` fills the subset sizes left unset and caps the bootstrap rounds."""
        return cls(
            shared=shared,
            out=out,
            img=img or out.parent / "img",
            quick=quick,
            playlists=playlists or (60 if quick else None),
            songs=songs or (500 if quick else None),
            covers=covers or (20 if quick else None),
            bootstrap=bootstrap if not quick else min(bootstrap, 500),
            ranker=bool(rest.pop("ranker", True)) and not quick,
            **rest,  # type: ignore[arg-type]  # CLI options, checked by the dataclass
        )

    @property
    def json_out(self) -> Path:
        return self.out.with_suffix(".json")

    @property
    def ranker_out(self) -> Path:
        return self.out.with_name("ranker-evaluation.md")

    @property
    def command(self) -> str:
        parts = ["python scripts/evaluate.py", f"--shared {self.shared}", f"--out {self.out}"]
        if self.quick:
            parts.append("--quick")
        if self.seed != 7:
            parts.append(f"--seed {self.seed}")
        if not self.ranker and not self.quick:
            parts.append("--no-ranker")
        return " ".join(parts)


def lyrics_weights(dense: float, sparse: float) -> dict[str, float]:
    return {LYRICS: dense, LYRICS_TERMS: sparse, COVER: 0.0, AUDIO: 0.0}


def ratio_name(dense: float, sparse: float) -> str:
    if sparse == 0:
        return "dense only (MiniLM `lyrics`)"
    if dense == 0:
        return "sparse only (BM25 `lyrics_terms`)"
    return f"dense+sparse {dense:g}:{sparse:g}"


def dense_share(name: str) -> float | None:
    for dense, sparse in LYRICS_RATIOS:
        if ratio_name(dense, sparse) == name:
            return dense / (dense + sparse)
    return None
