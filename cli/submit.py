"""Hand `musicrec index` / `musicrec train` to the API that owns the embedded shard.

Qdrant Edge lets one process open a shard. When a running API holds it, its owner file
(`core.store.owner`) names the API's URL: the command submits a job there (`POST /jobs`, or
the catalog as the body of `POST /jobs/upload` when it is not under MUSICREC_IMPORT_DIR),
with the API key from the environment as for any write, and follows it with a tqdm bar as
if the work ran here. Ctrl-C cancels the job. With a Qdrant server, or no running API,
nothing of this applies: the command runs the work itself.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import httpx
from tqdm import tqdm

from core.store.owner import Owner, owner_path, read_owner
from jobs.index import IndexOptions
from schemas.settings import Settings

POLL_SECONDS = 0.5
FINISHED = {"succeeded", "failed", "cancelled", "interrupted"}
SHOWN_ERRORS = 20


class SubmitError(RuntimeError):
    """The owning API refused or could not be reached mid-job."""


def find_owner(settings: Settings) -> Owner | None:
    """The live API owning this data dir's embedded shard, or None (a server engine, no
    owner file, a dead pid, or a URL that does not answer: a stale file)."""
    if settings.engine != "edge" or settings.qdrant_path is None:
        return None
    owner = read_owner(owner_path(settings.qdrant_path, settings.collection))
    if owner is None:
        return None
    try:
        health = httpx.get(f"{owner.url}/health", timeout=5).json()
    except (httpx.HTTPError, ValueError):
        return None
    # Whatever answers there must serve this collection on this engine (a reused port is not
    # the owner).
    if not isinstance(health, dict) or (health.get("engine"), health.get("collection")) != (
        "edge",
        settings.collection,
    ):
        return None
    if settings.api_key is not None:
        try:
            answer = httpx.get(
                f"{owner.url}/jobs/owner",
                headers={"X-API-Key": settings.api_key.get_secret_value()},
                timeout=5,
            )
            process = answer.json() if answer.status_code == 200 else {}
        except (httpx.HTTPError, ValueError):
            return None
        if (process.get("pid"), process.get("host")) != (owner.pid, owner.host):
            return None
    return owner


def _client(settings: Settings, owner: Owner) -> httpx.Client:
    if settings.api_key is None:
        raise SubmitError(
            f"the API at {owner.url} owns the embedded shard: set MUSICREC_API_KEY (its key) "
            "so this command can submit the job to it"
        )
    headers = {"X-API-Key": settings.api_key.get_secret_value()}
    return httpx.Client(base_url=owner.url, headers=headers, timeout=60)


def _checked(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail")
        except ValueError:
            detail = response.text[:500]
        raise SubmitError(f"the API refused the job (HTTP {response.status_code}): {detail}")
    body: dict[str, Any] = response.json()
    return body


def submit_index(
    settings: Settings, owner: Owner, path: Path, options: IndexOptions, *, show_progress: bool
) -> int:
    if options.part is not None or options.fit_only:
        raise SubmitError("--part and --fit-only split work across server collections only")
    if not path.is_file():
        raise SubmitError(f"no catalog file at {path}")
    print(f"the API at {owner.url} owns the shard: indexing {path} there", file=sys.stderr)
    import_dir = settings.import_dir.resolve() if settings.import_dir else None
    resolved = path.resolve()
    with _client(settings, owner) as client:
        if import_dir is not None and resolved.is_relative_to(import_dir):
            body = {"kind": "index", "path": str(resolved.relative_to(import_dir))}
            job = _checked(
                client.post(
                    "/jobs", json={**body, "schema": options.schema, "force": options.force}
                )
            )
        else:
            with resolved.open("rb") as fh:
                job = _checked(
                    client.post(
                        "/jobs/upload",
                        params={"schema": options.schema, "force": str(options.force).lower()},
                        content=fh,
                        headers={
                            "content-type": "text/csv",
                            "content-length": str(resolved.stat().st_size),
                        },
                    )
                )
        return follow(client, job, show_progress=show_progress)


def submit_train(settings: Settings, owner: Owner, *, show_progress: bool) -> int:
    print(f"the API at {owner.url} owns the shard: training there", file=sys.stderr)
    with _client(settings, owner) as client:
        job = _checked(client.post("/jobs", json={"kind": "train"}))
        return follow(client, job, show_progress=show_progress)


def follow(client: httpx.Client, job: dict[str, Any], *, show_progress: bool) -> int:
    """Poll the job until it ends, as a progress bar; Ctrl-C cancels it. 0 if it succeeded."""
    bar = tqdm(total=100, desc=f"{job['kind']} job {job['id'][:8]}", disable=not show_progress)
    try:
        while job["state"] not in FINISHED:
            time.sleep(POLL_SECONDS)
            job = _checked(client.get(f"/jobs/{job['id']}"))
            done = round(100 * (job.get("progress") or 0))
            bar.update(max(0, done - bar.n))
            bar.set_postfix(state=job["state"], **_short(job.get("counts") or {}))
    except KeyboardInterrupt:
        print("\ncancelling the job …", file=sys.stderr)
        _checked(client.delete(f"/jobs/{job['id']}"))
        raise
    finally:
        bar.close()
    for error in job.get("errors", [])[:SHOWN_ERRORS]:
        where = f"line {error['line']}" if "line" in error else error.get("url", "")
        print(f"  rejected {where}: {error.get('reason')}", file=sys.stderr)
    versions = job.get("versions") or {}
    if versions:
        print("published " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    print(f"job {job['id']}: {job['state']}: {job.get('message') or ''}")
    return 0 if job["state"] == "succeeded" else 1


def _short(counts: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in counts.items() if isinstance(v, int | float)}
