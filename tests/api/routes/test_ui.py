"""The web app (web/, React) in a real headless Chromium against a live API: an indexed demo
slice whose covers went through the indexer (cover cache, CNN cover vectors), a trained
LightFM model and learned ranker, so every page has real data. Screenshots of each page go
to tests/artifacts/ (not committed)."""

from __future__ import annotations

import csv
import hashlib
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import Page, Route, sync_playwright

from api.main import create_app
from api.routes.ui import BUILD_HINT, WEB_DIST
from core.cover_cache import cover_cache_dir
from core.encoders.lyrics_terms import LyricsTermsEncoder
from core.store.edge import EdgeStore
from indexer.covers import CoverFetcher, build_cover_url_encoder
from indexer.pipeline import Indexer
from tests.api.routes.test_users import USER, USERS, slice_ids, train
from tests.conftest import ROOT, LiveServer, demo_rows, make_settings, write_catalog

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "tests" / "artifacts"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
KEY = "ui-test-key-0123456789"
COVER_HOST = "https://covers.test/"


def cover_url(album: str) -> str:
    return f"{COVER_HOST}{hashlib.sha1(album.encode()).hexdigest()[:12]}.png"


def draw_cover(path: Path, album: str) -> None:
    """A distinct two-colour cover per album, as the indexer would have cached it."""
    digest = hashlib.sha1(album.encode()).digest()
    image = Image.new("RGB", (120, 120), tuple(digest[:3]))
    ImageDraw.Draw(image).polygon([(0, 120), (120, 0), (120, 120)], fill=tuple(digest[3:6]))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, lyrics_encoder) -> Path:
    """Two playlists and some lyrics tracks, indexed with lyrics, terms, audio and CNN cover
    vectors (covers read from the indexer's cache), LightFM and the ranker trained; then one
    album's cached cover is removed (it must be a 404, never a redirect), and a scratch
    collection sits beside the served one for the console to drop."""
    header, rows = demo_rows()
    wanted = set(slice_ids())
    chosen = [r for r in rows if r["id"] in wanted]
    albums = sorted({r["album_name"] for r in chosen if r["album_name"]})
    for row in chosen:
        row["album_url"] = cover_url(row["album_name"]) if row["album_name"] else ""
    root = tmp_path_factory.mktemp("ui")
    settings = make_settings(root)
    fetcher = CoverFetcher(cover_cache_dir(settings))
    for album in albums:
        draw_cover(fetcher.cache_path(cover_url(album)), album)
    columns = list(dict.fromkeys([*header, "album_url"]))  # the demo may name its covers
    path = write_catalog(root / "catalog.csv", columns, chosen)
    covers = build_cover_url_encoder(settings)
    assert covers is not None
    for name, catalog in (("tracks", path), ("scratch", path)):
        store = EdgeStore(settings.qdrant_path, name)
        encoders = [lyrics_encoder, LyricsTermsEncoder(), covers] if name == "tracks" else []
        Indexer(store, encoders, batch_size=64, progress=False).run(catalog)
        store.close()
    with pytest.MonkeyPatch.context() as mp:
        train(root, mp)
    fetcher.cache_path(cover_url(albums[0])).unlink()
    fetcher.close()
    (root / "uncached.txt").write_text(albums[0])
    return root


@pytest.fixture(scope="module")
def server(data_dir) -> Iterator[LiveServer]:
    if not (WEB_DIST / "index.html").is_file():
        pytest.fail(f"the web app is not built: {BUILD_HINT} (scripts/setup.sh does it)")
    live = LiveServer(create_app(make_settings(data_dir, api_key=KEY)), {"X-API-Key": KEY})
    with live:
        yield live


@pytest.fixture
def page(server, tmp_path) -> Iterator[Page]:
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's `chromium` package")
    blocked: list[str] = []

    def local_only(route: Route) -> None:
        """The app talks to its own server only; anything else is refused and recorded."""
        if route.request.url.startswith(server.url):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            tmp_path / "profile",
            executable_path=CHROMIUM,
            args=FLAGS,
            headless=True,
            viewport={"width": 1280, "height": 1000},
        )
        context.route("**/*", local_only)
        errors: list[str] = []
        tab = context.new_page()
        tab.on("pageerror", lambda exc: errors.append(str(exc)))
        # A CSP violation is only a console message: collect those too.
        tab.on(
            "console",
            lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None,
        )
        tab.goto(server.url + "/")
        yield tab
        context.close()
    assert not errors, errors
    assert not blocked, blocked


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


def fits_the_phone(page: Page) -> None:
    page.set_viewport_size({"width": 375, "height": 812})
    # Charts re-measure on a ResizeObserver callback: give the layout a moment to settle.
    page.wait_for_function("() => document.documentElement.scrollWidth <= 375", timeout=10_000)
    page.set_viewport_size({"width": 1280, "height": 1000})


def real_cover_loaded(page: Page, scope: str) -> None:
    """Some card in `scope` shows a cover served by /covers and decoded (naturalWidth > 0)."""
    page.wait_for_function(
        f"() => [...document.querySelectorAll('{scope} img.cover')].some("
        "i => i.complete && i.naturalWidth > 0 && i.src.includes('/covers/'))"
    )


def test_covers_come_from_the_cache_never_from_a_redirect(server, data_dir) -> None:
    with (data_dir / "catalog.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    by_album = {r["album_name"]: r["id"] for r in rows if r["album_name"]}
    no_album = next(r["id"] for r in rows if not r["album_name"])
    uncached = (data_dir / "uncached.txt").read_text()
    cached = next(a for a in by_album if a != uncached)
    client = server.client

    hit = client.get(f"/covers/{by_album[cached]}")
    assert hit.status_code == 200
    assert hit.headers["content-type"] == "image/png"
    assert "max-age" in hit.headers["cache-control"]

    miss = client.get(f"/covers/{by_album[uncached]}")
    assert miss.status_code == 404  # not an open redirect to the catalog's URL
    assert "location" not in miss.headers

    assert client.get(f"/covers/{no_album}").status_code == 404
    assert client.get("/covers/no-such-track").status_code == 404


def test_the_app_is_served_with_its_assets_and_the_csp(server) -> None:
    page = server.client.get("/")
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "<script>" not in page.text  # no inline script: the CSP would refuse it
    assets = re.findall(r'(?:src|href)="(/ui/[^"]+)"', page.text)
    assert assets
    for asset in assets:
        response = server.client.get(asset)
        assert response.status_code == 200
        assert "script-src 'self'" in response.headers["content-security-policy"]
    assert server.client.get("/ui/..%2F..%2Fpyproject.toml").status_code == 404


def test_without_a_build_the_root_says_how_to_make_one(tmp_path) -> None:
    app = create_app(make_settings(tmp_path, web_dist=tmp_path / "nowhere", cover_encoder="none"))
    with LiveServer(app) as client:
        response = client.get("/")
        assert response.status_code == 503
        assert "npm ci &amp;&amp; npm run build" in response.text or BUILD_HINT in response.text
        assert client.get("/ui/assets/index.js").status_code == 404


def test_every_page_against_the_live_api(page: Page, server, data_dir) -> None:
    page.locator("#health", has_text=re.compile(r"\d+ tracks · edge engine")).wait_for()

    # Discover. An unsupported search (text → cover needs CLIP): the API's 400 is shown.
    page.get_by_label("cover (text, needs CLIP)").check()
    page.get_by_label("Words, a lyric, a mood").fill("sunset")
    page.get_by_role("button", name="Search", exact=True).click()
    page.locator(".error", has_text="needs the CLIP cover encoder").wait_for()

    page.get_by_label("lyrics (text)").check()
    page.get_by_label("Words, a lyric, a mood").fill("jenny I got your number")
    page.get_by_label("Words, a lyric, a mood").press("Enter")
    first = page.locator("#found .card").first
    first.wait_for()
    assert first.locator(".bars li").first.inner_text().startswith("lyrics")

    # Keyboard: Like is a real button, toggled with Enter.
    like = first.get_by_role("button", name=re.compile("^Like:"))
    like.focus()
    page.keyboard.press("Enter")
    assert like.get_attribute("aria-pressed") == "true"
    page.locator("#positive li").first.wait_for()
    page.locator("#recommended .card").first.wait_for()
    assert page.locator("#recommended .card").count() > 5
    real_cover_loaded(page, "#recommended")
    assert all(page.eval_on_selector_all("img", "imgs => imgs.map(i => i.alt)"))

    # A modality weighed 0 leaves the query.
    note = page.locator("#rec-note")
    assert "audio" in note.inner_text()
    page.get_by_role("slider", name="audio weight").fill("0")
    page.locator("#rec-note", has_text=re.compile(r"^(?!.*audio).*$")).wait_for()

    # Filters matching nothing: said, not an empty page.
    page.get_by_label("From year").fill("2999")
    page.get_by_text("Nothing matches these seeds and filters.").wait_for()
    page.get_by_label("From year").fill("")
    page.locator("#recommended .card").first.wait_for()

    # Cover-image search: an album's own cover finds tracks of that album first.
    with (data_dir / "catalog.csv").open(newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["album_name"]]
    uncached = (data_dir / "uncached.txt").read_text()
    album = next(r["album_name"] for r in rows if r["album_name"] != uncached)
    image = CoverFetcher(cover_cache_dir(make_settings(data_dir))).cache_path(cover_url(album))
    page.get_by_role("radio", name="cover image").check()
    page.get_by_label("Image file").set_input_files(image)
    page.get_by_role("button", name="Search", exact=True).click()
    page.locator("#found .card .meta", has_text=album).first.wait_for()
    assert album in page.locator("#found .card .meta").first.inner_text()
    real_cover_loaded(page, "#found")
    shot(page, "discover")
    fits_the_phone(page)

    # Track: stored metadata, nearest per modality and fused.
    page.locator("#recommended .card .title").first.click()
    page.get_by_label("Stored metadata").wait_for()
    for view in ("lyrics", "audio", "fused"):
        page.get_by_label(f"Nearest by {view}").locator(".card").first.wait_for()
    real_cover_loaded(page, ".nearest")
    shot(page, "track")
    fits_the_phone(page)

    # Listener: listing listeners needs the key; then history, explained recommendations,
    # recording a like.
    page.get_by_role("link", name="Listener").click()
    page.locator("#key-note", has_text="needs the API key").wait_for()
    page.get_by_label("API key").fill(KEY)
    page.get_by_label("API key").press("Enter")
    page.locator("#user option").nth(2).wait_for(state="attached")
    page.get_by_label("Known listeners").select_option(USER)
    page.locator(".history li").first.wait_for()
    assert page.locator(".history li").count() == min(30, len(set(USERS[USER])))
    card = page.locator("#personal .card").first
    card.locator(".signals li").first.wait_for()
    assert "learned ranker" in page.locator("#ranked-by").inner_text()
    assert "found by:" in card.locator(".sources").inner_text()
    assert card.locator(".why").inner_text().startswith(("Recommended mostly for", "No signal"))
    assert re.search(r"[+−]\d\.\d\d", card.locator(".signals").inner_text())
    real_cover_loaded(page, "#personal")
    # The collaborative models published by `musicrec train` have bars of their own.
    every = page.locator("#personal").inner_text()
    assert any(label in every for label in ("EASE", "iALS", "RP3β", "similar listeners"))
    liked = card.get_attribute("data-track-id")
    card.get_by_role("button", name=re.compile("^Record like")).click()
    page.get_by_text("Recorded a like of").wait_for()
    # The like joins the history and leaves the recommendations.
    page.locator(f'#personal .card[data-track-id="{liked}"]').wait_for(state="detached")
    shot(page, "listener")
    fits_the_phone(page)

    # Stats: the served lists above are counted; the serving versions are named.
    page.get_by_role("link", name="Stats").click()
    page.locator("#stats-table tbody tr").first.wait_for()
    page.locator("figure.chart .recharts-wrapper").nth(2).wait_for()
    assert page.locator("figure.chart .recharts-wrapper").count() == 3
    assert "learned" in page.locator("#serving").inner_text()
    shot(page, "stats")
    fits_the_phone(page)

    # Collections: list, details, pages of points, a snapshot, a confirmed drop.
    page.get_by_role("link", name="Collections").click()
    page.locator("#collection-list").get_by_role("link", name="tracks").click()
    page.locator("#vectors li", has_text="384-d cosine").first.wait_for()
    assert "cover" in page.locator("#vectors").inner_text()
    page.locator("#payload-indexes li", has_text="genre").wait_for()
    assert "source" in page.locator("#collection-info").inner_text()
    page.locator("#points tbody tr").first.wait_for()
    first_page = page.locator("#points tbody tr").first.inner_text()
    page.get_by_role("button", name="Next page").click()
    page.get_by_text("Points (page 2)").wait_for()
    page.wait_for_function(
        "before => document.querySelector('#points tbody tr')?.innerText !== before",
        arg=first_page,
    )
    page.get_by_role("button", name="Take a snapshot").click()
    page.locator("#snapshot-done", has_text=".tar.gz").wait_for()
    assert list((data_dir / "snapshots").glob("tracks-*.tar.gz"))
    page.locator("#points tbody tr").first.wait_for()  # the served shard reopened
    shot(page, "collections")
    fits_the_phone(page)

    page.locator("#collection-list").get_by_role("link", name="scratch").click()
    drop = page.get_by_role("button", name="Drop scratch")
    page.get_by_label("Type “scratch” to drop it").fill("scratc")
    assert drop.is_disabled()
    page.get_by_label("Type “scratch” to drop it").fill("scratch")
    drop.click()
    page.locator("#collection-list").get_by_role("link", name="scratch").wait_for(state="detached")
    assert not (data_dir / "qdrant" / "scratch").exists()
    assert server.client.get("/health").json()["status"] == "ok"


def test_every_control_is_labelled(page: Page) -> None:
    for hash_ in ("#/", "#/listener", "#/stats", "#/collections/tracks"):
        page.goto(page.url.split("#")[0] + hash_)
        page.locator("main label").first.wait_for()
        unlabelled = page.eval_on_selector_all(
            "input, select",
            "els => els.filter(e => e.type !== 'hidden' && e.labels.length === 0).map(e => e.id)",
        )
        assert unlabelled == [], hash_
