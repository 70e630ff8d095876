"""What `/health` and `POST /model/reload` say about the serving state, fit for the public.

A neutral module (not a route) because two routes report the model. Messages from the store
and the model holder name files on disk; `public` strips their absolute paths so an anonymous
caller does not learn the server's directory layout (the log keeps the full message).
"""

from __future__ import annotations

import re

from core.artefacts import ArtefactHolder
from core.collab.holder import ModelHolder
from core.recommend.rankers.artefact import RankerArtefact
from schemas.api import ModelStatus

# An absolute POSIX path of two or more parts, not inside a URL (`http://host/a/b`).
_ABSOLUTE_PATH = re.compile(r"(?<![\w./:~-])/(?:[^\s'\"/:,;()]+/)+([^\s'\"/:,;()]+)")


def public(message: str) -> str:
    """The message with each absolute path cut to its last part (`/srv/x/models` → `models`)."""
    return _ABSOLUTE_PATH.sub(r"\1", message)


def model_status(holder: ModelHolder) -> ModelStatus:
    model = holder.model
    if model is None:
        return ModelStatus(
            status="error" if holder.error else "missing",
            detail=public(
                holder.error
                or f"no model in {holder.model_dir}: run `musicrec train` "
                "(results are content-only)"
            ),
        )
    counts = model.metadata.get("counts", {})
    return ModelStatus(
        status="loaded",
        version=holder.version,
        trained_at=model.metadata.get("trained_at"),
        users=counts.get("users"),
        items=counts.get("items"),
        detail=public(holder.error) if holder.error else None,
    )


def ranker_status(holder: ArtefactHolder[RankerArtefact] | None) -> ModelStatus:
    """Which ranker serves: a loaded artefact (learned), or none/broken (the linear blend).
    Asks the holder for its current artefact, so a newly published one shows at once."""
    ranker = holder.current() if holder is not None else None
    if ranker is None:
        where = holder.directory if holder is not None else "the model directory"
        return ModelStatus(
            status="error" if holder is not None and holder.error else "missing",
            detail=public(
                (holder.error if holder is not None else None)
                or f"no ranker in {where}: the linear blend serves (run `musicrec train`)"
            ),
        )
    return ModelStatus(
        status="loaded",
        version=holder.version if holder is not None else None,
        trained_at=ranker.metadata.get("trained_at"),
        users=ranker.metadata.get("counts", {}).get("users"),
        items=len(ranker.index),
        detail=public(holder.error) if holder is not None and holder.error else None,
    )
