"""The rate limiter's storage and its idea of the client, over real HTTP against the real
entry point (`python -m api`, so uvicorn's proxy-header options come from the settings).

Two API processes on one real Redis (Debian's `redis-server` on a free port) share one
budget; an X-Forwarded-For from a peer that is not a trusted proxy picks nothing."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from api.ratelimit import RateLimits, RateLimitStorageError
from schemas.settings import SettingsError, load_settings
from tests.conftest import free_port
from tests.fixtures.api_process import ApiProcess

RATE = "4/minute"


@pytest.fixture(scope="module")
def replicas(indexed_dir, module_dir, redis_server) -> Iterator[tuple[ApiProcess, ...]]:
    """Two replicas on one Redis: `strict` trusts no proxy (the default), `proxied` trusts
    loopback as its proxy. Each owns a copy of the shard (an embedded shard has one owner)."""
    root = module_dir
    processes = []
    for name, trusted in (("strict", None), ("proxied", '["127.0.0.1/32"]')):
        shutil.copytree(indexed_dir / "qdrant", root / name / "qdrant")
        env = {"MUSICREC_RATE_LIMIT_SEARCH": RATE, "MUSICREC_RATE_LIMIT_STORAGE": redis_server.url}
        if trusted:
            env["MUSICREC_TRUSTED_PROXIES"] = trusted
        processes.append(ApiProcess(root / name, **env))
    try:
        yield tuple(p.wait() for p in processes)
    finally:
        for p in processes:
            p.stop()


@pytest.mark.slow
def test_two_processes_share_one_budget_and_spoofed_forwards_pick_none(replicas) -> None:
    strict, proxied = replicas
    with strict.client() as a, proxied.client() as b:
        search = {"q": "love"}
        # The same client (127.0.0.1, no proxy header) spends one budget across both.
        assert [a.get("/search", params=search).status_code for _ in range(2)] == [200, 200]
        assert [b.get("/search", params=search).status_code for _ in range(2)] == [200, 200]
        assert a.get("/search", params=search).status_code == 429
        assert b.get("/search", params=search).status_code == 429
        # From a peer that is no trusted proxy, X-Forwarded-For changes nothing.
        for spoof in ("203.0.113.7", "not-an-ip", "10.0.0.1, 198.51.100.2", "::1"):
            spoofed = a.get("/search", params=search, headers={"X-Forwarded-For": spoof})
            assert spoofed.status_code == 429, spoof
        # Behind a trusted proxy, the forwarded address is the client: its own budget,
        # charged on every replica (the strict one sees the proxy's peer, not the client).
        forwarded = {"X-Forwarded-For": "203.0.113.7"}
        statuses = [
            b.get("/search", params=search, headers=forwarded).status_code for _ in range(5)
        ]
        assert statuses == [200, 200, 200, 200, 429]
        other = b.get("/search", params=search, headers={"X-Forwarded-For": "203.0.113.8"})
        assert other.status_code == 200


def test_an_unreachable_redis_refuses_instead_of_letting_requests_through() -> None:
    """Nothing listens on the port: the request is not counted, so it is not let through (the
    route answers 503 through api.errors); the message names no host."""
    limits = RateLimits({"search": "1/minute"}, f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(RateLimitStorageError) as refused:
        limits.retry_after("search", "127.0.0.1")
    assert "127.0.0.1" not in str(refused.value)
    assert RateLimits({"other": None}).retry_after("other", "x") is None  # unlimited: no call


def test_storage_and_proxy_settings_are_checked_without_echoing_a_password(monkeypatch) -> None:
    monkeypatch.setenv("MUSICREC_RATE_LIMIT_STORAGE", "gopher://:hunter2@cache:6379")
    with pytest.raises(SettingsError) as refused:
        load_settings(_env_file=None)
    assert "MUSICREC_RATE_LIMIT_STORAGE" in str(refused.value)
    assert "hunter2" not in str(refused.value)
    monkeypatch.setenv("MUSICREC_RATE_LIMIT_STORAGE", "redis://:hunter2@cache:6379/0")
    monkeypatch.setenv("MUSICREC_TRUSTED_PROXIES", '["172.28.0.0/24", " 10.1.2.3 "]')
    settings = load_settings(_env_file=None)
    assert settings.trusted_proxies == ["172.28.0.0/24", "10.1.2.3"]
    for bad in ('["*"]', '["nginx"]', '["10.0.0.0/33"]'):
        monkeypatch.setenv("MUSICREC_TRUSTED_PROXIES", bad)
        with pytest.raises(SettingsError, match="MUSICREC_TRUSTED_PROXIES"):
            load_settings(_env_file=None)
    monkeypatch.delenv("MUSICREC_TRUSTED_PROXIES")
    assert load_settings(_env_file=None).trusted_proxies == []
