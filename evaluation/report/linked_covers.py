"""The linked-covers report (docs/evaluation.md section 7): album-genre retrieval and the
covers-or-not continuation, written from the numbers `evaluation.protocols.linked_covers`
computes — the computation and the report kept apart, as for the other protocols."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evaluation.protocols.linked_covers import METRICS, MIN_COVERED, RANDOM


def _fmt(triple: Sequence[float]) -> str:
    mean, low, high = triple
    return f"{mean:.4f} [{low:.4f}, {high:.4f}]"


def _signed(triple: Sequence[float]) -> str:
    mean, low, high = triple
    verdict = "excludes 0" if low > 0 or high < 0 else "includes 0"
    return f"{mean:+.4f} [{low:+.4f}, {high:+.4f}] ({verdict})"


def _measured(part: dict[str, Any]) -> str:
    took = f"{part['seconds'] / 60:.0f} min, " if "seconds" in part else ""
    return (
        f"Measured by `{part['command']}` ({took}load average {part['load before']} before, "
        f"{part['load after']} after; 2 shared cores)."
    )


def _verdict(triple: Sequence[float]) -> str:
    """A paired difference's interval in words: which way it excludes 0, or that it does not."""
    _, low, high = triple
    if low > 0:
        return "higher with covers"
    if high < 0:
        return "lower with covers"
    return "no significant difference"


def _reading(conditions: dict[str, Any]) -> list[str]:
    """The continuation table in words, with what each kind of row can and cannot say."""
    lines = ["", "Reading:", ""]
    for name, block in conditions.items():
        parts = []
        for relevance in ("all hidden tracks", "hidden covered tracks"):
            comp = block[relevance]
            verdicts = ", ".join(
                f"{metric} {_verdict(comp[metric]['with - without'])}" for metric in METRICS
            )
            parts.append(f"on {relevance} ({comp['n']} playlists) {verdicts}")
        lines.append(f"* {name} links: " + "; ".join(parts) + ".")
    lines.append(
        "* The all-hidden rows say whether covers improve the continuation of a playlist; the "
        "covered-track rows favour the run with covers by construction (every relevant track "
        "there has a cover, and only with covers can the cover prefetch propose one or the "
        "cover features lift it). The linked tracks of one album share one image, so album "
        "mates have a cover cosine of 1.0: part of what covers add here may be album identity "
        "rather than how a cover looks. Each run trains its own ranker (rounds below), so a "
        "difference also carries the rankers' training variance; `cover features' gain "
        "share` is the share of the with-covers ranker's split gain on the cover features."
    )
    lines.append(
        "* Two runs of the same command give close but not identical numbers: tracks with "
        "identical vectors (the catalog's duplicate tracks) tie in each modality's ranking, "
        "the engine orders those ties its own way in each process, and the fused RRF sums, "
        "the pools and so the rankers follow. Read the intervals and the verdicts, not the "
        "third decimal; a verdict whose interval ends near 0 can flip between runs."
    )
    return lines


def report(numbers: dict[str, Any]) -> str:
    """The Markdown section (docs/evaluation.md, section 7) from the `--linked` numbers."""
    lines = [
        f"Seed {numbers['seed']}, {numbers['bootstrap']} bootstrap resamples, 95% intervals. "
        "Data: `covers_linked/` (real Spotify album covers linked to TidyTuesday tracks, see "
        "../shared/data/README.md); numbers also in `covers-evaluation.json`."
    ]
    r = numbers.get("retrieval")
    if r:
        names = list(r["all covers"]["P@k"])
        first = names[0]
        lines += [
            "",
            f"**(a) Retrieval by album genre.** Each of the {r['covers']} linked covers that "
            f"have an album genre in `albums.csv` ({len(r['genres'])} genres, spelling folded) "
            f"queries its {r['k']} nearest other covers by cosine; P@{r['k']} = share with the "
            "query's genre. Encoders: "
            + "; ".join(f"{n} = `{e}`" for n, e in r["encoders"].items())
            + " — the CLIP row is open_clip **with random weights** (no checkpoint exists "
            "offline): what `MUSICREC_COVER_ENCODER=clip` gives without "
            "`MUSICREC_CLIP_CHECKPOINT`, an untrained-network baseline, not CLIP's quality. "
            f"{RANDOM}: a seeded random score matrix. The second block leaves the query "
            "artist's other albums out (an artist's albums share a genre and often a look). "
            + _measured(r),
            "",
            "| neighbours | queries | " + " | ".join(f"{n} P@{r['k']}" for n in names) + " |",
            "|---" * (len(names) + 2) + "|",
        ]
        for label in ("all covers", "other artists' covers"):
            block = r[label]
            lines.append(
                f"| {label} | {block['queries']} | "
                + " | ".join(_fmt(block["P@k"][n]) for n in names)
                + " |"
            )
        lines += ["", f"Paired per-query difference, {first} minus each:", ""]
        for label in ("all covers", "other artists' covers"):
            diffs = r[label][f"{first} minus"]
            lines.append(f"* {label}: " + "; ".join(f"{n} {_signed(v)}" for n, v in diffs.items()))
    c = numbers.get("continuation")
    if not c:
        lines += [
            "",
            "**(b) Playlist continuation with and without covers**: not measured yet. "
            "`python scripts/eval_covers.py --linked --shared ../shared/data --skip-retrieval "
            "--seed 7` measures it (it indexes the TidyTuesday catalog, embeds the linked "
            "covers once per link set and trains three rankers).",
        ]
    else:
        lines += [
            "",
            "**(b) Playlist continuation with and without covers.** TidyTuesday playlists "
            "(playlist = user), 20% of each playlist with at least 10 tracks hidden (seeded, "
            f"the split of sections 1 and 6); the catalog is all {c['catalog tracks']:,} "
            "tracks with their audio vector and no lyrics, no genre. The product runs on it "
            "with the same LightFM model **with** the linked covers indexed through the "
            "local-cover path (CNN `cover` vectors: the content source's cover prefetch and "
            "the ranker's cover features — cosine to the seeds, has-cover — exist) and "
            "**without** (no track "
            "has a cover). Each run trains its own LambdaRank ranker on the training side "
            f"only, then serves the top {c['k']} of `GET /users/{{id}}/recommendations` for "
            f"each playlist holding at least {MIN_COVERED} covered tracks. Exact-id links "
            "(the track's Spotify album id is the cover's) and name links (artist + album "
            "name; a deluxe or remaster may carry a different variant) are separate runs. "
            "Relevant = the playlist's hidden tracks, or only its hidden covered tracks "
            "(playlists with at least one). Differences are paired per playlist. " + _measured(c),
            "",
            "| links | relevant | playlists | metric | with covers | without covers | "
            "with − without | better / worse |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name, block in c["conditions"].items():
            for relevance in ("all hidden tracks", "hidden covered tracks"):
                comp = block[relevance]
                for metric in METRICS:
                    m = comp[metric]
                    lines.append(
                        f"| {name} | {relevance} | {comp['n']} | {metric} | "
                        f"{_fmt(m['with covers'])} | {_fmt(m['without covers'])} | "
                        f"{_signed(m['with - without'])} | "
                        f"{m['playlists better / worse'][0]} / "
                        f"{m['playlists better / worse'][1]} |"
                    )
        lines += [*_reading(c["conditions"]), ""]
        for name, block in c["conditions"].items():
            facts = {
                k: v
                for k, v in block.items()
                if k not in ("all hidden tracks", "hidden covered tracks")
            }
            lines.append(f"* {name} links: " + ", ".join(f"{k} {v}" for k, v in facts.items()))
        lines.append(
            "* without covers: " + ", ".join(f"{k} {v}" for k, v in c["without covers"].items())
        )
    return "\n".join(lines) + "\n"
