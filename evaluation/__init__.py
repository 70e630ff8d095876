"""Recommendation quality measured through the product's own code.

    datasets.py   the real data (TidyTuesday playlists, Billboard lyrics, covers)
    splits.py     seeded playlist-continuation splits (standard, warm-only, cold start)
    methods/      the Method contract and every method behind it (baselines, TF-IDF,
                  Word2Vec, LightFM, and the product via methods/product.py, the one adapter)
    metrics.py    ranking metrics, AUC, RMSE and the bootstrap, written once
    protocols/    each protocol returns per-query results (evaluation.results)
    report/       docs/evaluation.md from a Jinja template, plots, docs/evaluation.json
    run.py        one run: every protocol, then the report

CLIs: `musicrec evaluate` (cli/commands/evaluate.py) and scripts/evaluate.py,
scripts/eval_collaborative.py, scripts/eval_covers.py. Needs the `eval` extra.
"""
