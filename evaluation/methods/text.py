"""Lyrics baselines outside the product: TF-IDF (scikit-learn) and Word2Vec (gensim) trained
on the catalog's own lyrics, ranked by cosine to the mean of the seeds' vectors.

Both libraries are the `eval` extra; they are imported when a ranker is fitted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from evaluation.methods.base import Query, ScoringMethod, TrainData


def tokenize(text: str) -> list[str]:
    return [w for w in "".join(c if c.isalnum() else " " for c in text.lower()).split() if w]


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)


class _CosineMethod(ScoringMethod):
    """Rows are L2-normalised; a scipy sparse matrix stays sparse (TF-IDF has ~15k columns)."""

    def _fit(self, data: TrainData) -> None:
        self.vectors = self.embed([t.lyrics or "" for t in data.catalog])

    def embed(self, texts: Sequence[str]) -> Any:
        raise NotImplementedError

    def scores(self, query: Query) -> np.ndarray:
        rows = [self.index[t] for t in query.seeds if t in self.index]
        if not rows:
            return np.zeros(len(self.ids))
        centre = self.vectors[rows].mean(axis=0) if len(rows) > 1 else self.vectors[rows]
        sims = centre @ self.vectors.T
        sims = sims.toarray() if hasattr(sims, "toarray") else sims
        return np.asarray(sims, dtype=np.float64).ravel()


class TfidfMethod(_CosineMethod):
    name = "TF-IDF (scikit-learn, sublinear tf, min_df 2)"

    def embed(self, texts: Sequence[str]) -> Any:
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectorizer = TfidfVectorizer(
            tokenizer=tokenize, lowercase=False, token_pattern=None, sublinear_tf=True, min_df=2
        )
        return vectorizer.fit_transform(texts)


class Word2VecMethod(_CosineMethod):
    """Mean of word vectors trained on the catalog's own lyrics (one worker: deterministic)."""

    name = "Word2Vec mean (gensim, trained on these lyrics)"

    def __init__(self, seed: int, epochs: int = 20) -> None:
        super().__init__()
        self.seed = seed
        self.epochs = epochs

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        from gensim.models import Word2Vec

        sentences = [tokenize(t) for t in texts]
        model = Word2Vec(
            sentences,
            vector_size=100,
            window=5,
            min_count=2,
            workers=1,
            seed=self.seed,
            epochs=self.epochs,
        )
        out = np.zeros((len(texts), 100))
        for i, words in enumerate(sentences):
            known = [w for w in words if w in model.wv]
            if known:
                out[i] = model.wv[known].mean(axis=0)
        return unit_rows(out)
