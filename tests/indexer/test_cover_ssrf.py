"""SSRF: catalog cover URLs may only reach public addresses (issue 17, item 2).

Real covers are served on 127.0.0.1 (and 127.0.0.2 for a second host); the same URLs that the
tests of test_covers.py fetch with loopback explicitly allowed are refused by default. Private,
link-local and other non-public addresses are refused before any connection is attempted: the
`no_connect` fixture fails the test on any `connect` call, so no traffic leaves for them.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from indexer.covers import CoverFetcher
from indexer.public_http import is_allowed
from schemas.settings import Settings
from tests.indexer.test_covers import LOOPBACK, CoverHost, cached_files, requires_covers


@pytest.fixture(scope="module")
def hosts() -> Iterator[tuple[CoverHost, CoverHost]]:
    """Two real cover hosts: 127.0.0.1 and 127.0.0.2 (all of 127/8 is loopback on Linux)."""
    first = CoverHost()
    second = CoverHost(("127.0.0.2", 0))
    threads = [threading.Thread(target=h.serve_forever, daemon=True) for h in (first, second)]
    for thread in threads:
        thread.start()
    yield first, second
    for h in (first, second):
        h.shutdown()
        h.server_close()


@pytest.fixture
def no_connect(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Records every connection attempt and fails it: a refusal must come before connecting."""
    attempts: list[object] = []

    def refuse(sock: socket.socket, address: object) -> None:
        attempts.append(address)
        raise AssertionError(f"connection attempted: {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    return attempts


@pytest.fixture(scope="module")
def name() -> str:
    from tests.indexer.test_covers import cover_files

    return cover_files()["rock"][0]


def _base(host: CoverHost) -> str:
    address, port = host.server_address[:2]
    return f"http://{address}:{port}"


@requires_covers
def test_loopback_is_refused_by_default_and_fetched_only_when_allowed(
    tmp_path, hosts, name
) -> None:
    host = hosts[0]
    url = f"{_base(host)}/covers/{name}"
    before = host.counts[f"/covers/{name}"]
    with CoverFetcher(tmp_path / "default", retries=1) as fetcher:
        result = fetcher.fetch_many([url])[url]
    assert result.error == f"refused: {url} is not a public http(s) address"
    assert result.path is None and cached_files(tmp_path / "default") == []
    assert host.counts[f"/covers/{name}"] == before  # nothing reached the server
    with CoverFetcher(tmp_path / "allowed", allowed_networks=LOOPBACK) as fetcher:
        assert fetcher.fetch_many([url])[url].error is None


@requires_covers
def test_a_redirect_hop_is_checked_like_the_first(tmp_path, hosts, name) -> None:
    """127.0.0.1 allowed, 127.0.0.2 not: the redirect to 127.0.0.2 (serving a real cover) is
    refused; allowing 127/8 fetches it, so the refusal is the guard, not a broken server."""
    first, second = hosts
    target = f"{_base(second)}/covers/{name}"
    url = f"{_base(first)}/redirect?to={quote(target, safe='')}"
    before = second.counts[f"/covers/{name}"]
    with CoverFetcher(tmp_path / "a", retries=1, allowed_networks=LOOPBACK) as fetcher:
        result = fetcher.fetch_many([url])[url]
    assert result.error == f"refused: {target} is not a public http(s) address"
    assert second.counts[f"/covers/{name}"] == before
    with CoverFetcher(tmp_path / "b", allowed_networks=["127.0.0.0/8"]) as fetcher:
        result = fetcher.fetch_many([url])[url]
    assert result.error is None and second.counts[f"/covers/{name}"] == before + 1


@requires_covers
def test_redirects_to_private_addresses_are_refused_without_connecting(
    tmp_path, hosts, name, monkeypatch
) -> None:
    """The first hop (allowed loopback) is served; the second is refused before any connect."""
    first = hosts[0]
    real_connect = socket.socket.connect
    dialled: list[object] = []

    def loopback_only(sock: socket.socket, address: object) -> None:
        dialled.append(address)
        assert isinstance(address, tuple) and address[0] == "127.0.0.1", address
        real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", loopback_only)
    targets = [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/cover.jpg",
        "http://[::1]:8080/cover.jpg",
        "http://127.0.0.2:8080/cover.jpg",
    ]
    urls = {t: f"{_base(first)}/redirect?to={quote(t, safe='')}" for t in targets}
    with CoverFetcher(tmp_path, retries=1, allowed_networks=LOOPBACK) as fetcher:
        results = fetcher.fetch_many(urls.values())
    for target, url in urls.items():
        assert results[url].error == f"refused: {target} is not a public http(s) address"
    assert all(address[0] == "127.0.0.1" for address in dialled)  # type: ignore[index]


def test_private_and_special_addresses_are_refused_before_connecting(tmp_path, no_connect) -> None:
    urls = [
        "http://10.0.0.1/cover.jpg",
        "http://172.16.5.4/cover.jpg",
        "http://192.168.1.1/cover.jpg",
        "http://169.254.169.254/latest/meta-data/iam/",
        "http://127.0.0.1:9/cover.jpg",
        "http://localhost:9/cover.jpg",
        "http://0.0.0.0:9/cover.jpg",
        "http://224.0.0.1/cover.jpg",
        "http://240.0.0.1/cover.jpg",
        "http://100.64.0.1/cover.jpg",
        "http://[::1]/cover.jpg",
        "http://[fe80::1]/cover.jpg",
        "http://[fd00::1]/cover.jpg",
        "http://[::ffff:127.0.0.1]/cover.jpg",
        "http://[::ffff:10.0.0.1]/cover.jpg",
        "http://2130706433/cover.jpg",  # 127.0.0.1 as a decimal integer
        "http://0x7f.1/cover.jpg",
    ]
    with CoverFetcher(tmp_path, retries=3, backoff=0.01) as fetcher:
        results = fetcher.fetch_many(urls)
    for url in urls:
        error = results[url].error or ""
        assert error.startswith("refused: ") and error.endswith(
            "is not a public http(s) address"
        ), (url, error)
    assert no_connect == []


def test_userinfo_is_refused_even_where_the_host_is_allowed(tmp_path, no_connect) -> None:
    url = "http://user:secret@127.0.0.1:9/cover.jpg"
    with CoverFetcher(tmp_path, allowed_networks=LOOPBACK) as fetcher:
        error = fetcher.fetch_many([url])[url].error
    assert error == "refused: http://127.0.0.1:9/cover.jpg is not a public http(s) address"
    assert "secret" not in (error or "") and no_connect == []


@requires_covers
def test_a_closed_port_and_an_open_one_get_the_same_reject(tmp_path, hosts, name) -> None:
    """No port-scanner oracle: by default both are refused, with one message."""
    open_url = f"{_base(hosts[0])}/covers/{name}"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    closed_url = f"http://127.0.0.1:{closed_port}/covers/{name}"
    with CoverFetcher(tmp_path, retries=1) as fetcher:
        results = fetcher.fetch_many([open_url, closed_url])
    errors = {u: (results[u].error or "").replace(u, "URL") for u in (open_url, closed_url)}
    assert errors[open_url] == errors[closed_url] == "refused: URL is not a public http(s) address"


@requires_covers
def test_redirect_loops_are_bounded(tmp_path, hosts) -> None:
    url = f"{_base(hosts[0])}/loop"
    before = hosts[0].counts["/loop"]
    with CoverFetcher(tmp_path, retries=1, allowed_networks=LOOPBACK) as fetcher:
        assert fetcher.fetch_many([url])[url].error == "too many redirects (more than 5)"
    assert hosts[0].counts["/loop"] - before == 6


def test_address_table() -> None:
    public = ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "151.101.1.1"]
    assert all(is_allowed(ipaddress.ip_address(a)) for a in public)
    loopback = ipaddress.ip_address("127.0.0.1")
    assert not is_allowed(loopback)
    assert is_allowed(loopback, [ipaddress.ip_network("127.0.0.0/8")])
    assert not is_allowed(ipaddress.ip_address("10.0.0.1"), [ipaddress.ip_network("127.0.0.0/8")])


def test_the_setting_defaults_to_public_only(tmp_path) -> None:
    assert Settings(_env_file=None, data_dir=tmp_path).cover_allowed_networks == []
    allowed = Settings(_env_file=None, data_dir=tmp_path, cover_allowed_networks=["127.0.0.1/32"])
    assert [str(n) for n in allowed.cover_allowed_networks] == ["127.0.0.1/32"]
