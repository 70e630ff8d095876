"""The web page in a real headless Chromium against a live API: an indexed slice with covers in
the indexer's cache and a trained LightFM model, so every part of the page has real data."""

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
from core.cover_cache import cover_cache_dir
from indexer.covers import CoverFetcher
from tests.api.routes.test_users import USER, USERS, index_and_train, slice_ids
from tests.conftest import ROOT, LiveServer, demo_rows, make_settings

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
    """Two playlists and some lyrics tracks; covers cached for every album but one, which
    stays uncached (a redirect), and tracks without an album get no cover URL at all."""
    header, rows = demo_rows()
    wanted = set(slice_ids())
    chosen = [r for r in rows if r["id"] in wanted]
    albums = sorted({r["album_name"] for r in chosen if r["album_name"]})
    for row in chosen:
        row["album_url"] = cover_url(row["album_name"]) if row["album_name"] else ""
    root = tmp_path_factory.mktemp("ui")
    fetcher = CoverFetcher(cover_cache_dir(make_settings(root)))
    for album in albums[1:]:
        draw_cover(fetcher.cache_path(cover_url(album)), album)
    fetcher.close()
    index_and_train(root, [*header, "album_url"], chosen, lyrics_encoder)
    (root / "uncached.txt").write_text(albums[0])
    return root


@pytest.fixture(scope="module")
def server(data_dir) -> Iterator[LiveServer]:
    live = LiveServer(create_app(make_settings(data_dir, api_key=KEY)), {"X-API-Key": KEY})
    with live:
        yield live


@pytest.fixture
def page(server, tmp_path) -> Iterator[Page]:
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's `chromium` package")
    blocked: list[str] = []

    def local_only(route: Route) -> None:
        """The page talks to its own server only; anything else is refused and recorded."""
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
        tab.goto(server.url + "/")
        yield tab
        context.close()
    assert not errors, errors
    assert all(url.startswith(COVER_HOST) for url in blocked), blocked


IDS = "[...document.querySelectorAll('#rec-grid .card')].map(c => c.dataset.trackId)"


def card_ids(page: Page) -> list[str]:
    return page.evaluate(IDS)


def wait_for_new_order(page: Page, before: list[str]) -> list[str]:
    page.wait_for_function(
        f"before => {{ const ids = {IDS}; return ids.length && ids.join() !== before.join(); }}",
        arg=before,
    )
    return card_ids(page)


def test_users_lists_model_and_recorded_listeners(server) -> None:
    client = server.client
    body = client.get("/users", params={"limit": 1000}).json()
    ids = [u["id"] for u in body["users"]]
    assert body["total"] == len(ids) >= 2
    assert ids[0] == USER  # most interactions first
    assert all(u["in_model"] for u in body["users"])
    event = {"user_id": "ui-newcomer", "track_id": USERS[USER][0]}
    assert client.post("/interactions", json={"events": [event]}).status_code == 201
    body = client.get("/users", params={"limit": 1000}).json()
    newcomer = next(u for u in body["users"] if u["id"] == "ui-newcomer")
    assert newcomer == {"id": "ui-newcomer", "interactions": 1, "in_model": False}
    assert len(client.get("/users", params={"limit": 1}).json()["users"]) == 1


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


def test_the_page_is_served_with_its_assets(server) -> None:
    page = server.client.get("/")
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for asset in re.findall(r'(?:src|href)="(/ui/[^"]+)"', page.text):
        assert server.client.get(asset).status_code == 200
    assert server.client.get("/ui/..%2Fmain.py").status_code == 404


def test_search_seed_explain_reweight_personalize(page: Page) -> None:
    page.locator("#health", has_text=re.compile(r"\d+ tracks · edge engine")).wait_for()

    # Unsupported modality: the API's 400 is shown, not swallowed.
    page.get_by_label("covers", exact=True).check()
    page.get_by_label("Lyrics, a mood").fill("sunset")
    page.get_by_role("button", name="Search", exact=True).click()
    page.locator("#status.error", has_text="not supported").wait_for()

    page.get_by_label("lyrics", exact=True).check()
    page.get_by_label("Lyrics, a mood").fill("jenny I got your number")
    page.get_by_label("Lyrics, a mood").press("Enter")
    first = page.locator("#found-grid .card").first
    first.wait_for()
    assert first.locator(".bars li").first.inner_text().startswith("lyrics")

    # Keyboard: the Like button is a real button.
    like = first.get_by_role("button", name=re.compile("^Like:"))
    like.focus()
    page.keyboard.press("Enter")
    assert like.get_attribute("aria-pressed") == "true"
    page.locator("#positive li").first.wait_for()
    page.locator("#rec-grid .card").first.wait_for()
    before = card_ids(page)
    assert len(before) > 5
    explanation = page.locator("#rec-grid .card").first.locator(".bars").first.inner_text()
    assert "lyrics" in explanation and "audio" in explanation
    assert page.locator("#rec-grid .scores").count() == 0  # nobody chosen: content only

    # Covers: cached ones load from /covers, missing ones fall back to the placeholder.
    page.wait_for_function(
        "() => [...document.querySelectorAll('#rec-grid img.cover')].some("
        "i => i.complete && i.naturalWidth > 0 && i.src.includes('/covers/'))"
    )
    alts = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.alt)")
    assert all(alts)

    # Lyrics off: only the audio vectors rank, so the order changes.
    page.get_by_label("Lyrics meaning").focus()
    page.keyboard.press("Home")
    after = wait_for_new_order(page, before)
    assert after != before
    assert "lyrics ×" not in page.locator("#rec-note").inner_text()

    # A listener: listing them needs the key; then the learned ranker ranks, each result
    # explained by a bar per signal.
    page.locator("#key-note", has_text="needs the API key").wait_for()
    page.get_by_label("API key").fill(KEY)
    page.get_by_label("API key").press("Enter")
    page.locator("#user option").nth(2).wait_for(state="attached")
    page.get_by_label("Personalize for").select_option(USER)
    page.locator("#rec-grid .signals").first.wait_for()
    assert f"ranked for {USER} by the learned ranker" in page.locator("#rec-note").inner_text()
    signals = page.locator("#rec-grid .card").first.locator(".signals").inner_text()
    assert "found by:" in signals and re.search(r"[+-]\d\.\d\d", signals)
    # The collaborative models published by `musicrec train` have bars of their own.
    every = page.locator("#rec-grid").inner_text()
    assert any(label in every for label in ("EASE", "iALS", "RP3β", "similar listeners"))
    ARTIFACTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 1500})
    page.screenshot(path=ARTIFACTS / "ui.png")

    # Ranker off: the content, collaborative and blended scores of the linear blend appear.
    page.get_by_label("Learned ranker").uncheck()
    page.locator("#rec-grid .scores").first.wait_for()
    assert f"reranked for {USER}" in page.locator("#rec-note").inner_text()
    scores = page.locator("#rec-grid .card").first.locator(".scores").inner_text()
    assert all(word in scores for word in ("content", "collab", "blended"))

    # The collaborative share moves the order too.
    personal = card_ids(page)
    page.get_by_label("Collaborative share").focus()
    page.keyboard.press("End")
    wait_for_new_order(page, personal)

    # Filters that match nothing: a clear message, not an empty page.
    page.get_by_label("From year").fill("2999")
    page.get_by_text("Nothing matches").wait_for()
    page.get_by_label("From year").fill("")
    page.locator("#rec-grid .card").first.wait_for()

    # Phone width: one column, nothing wider than the screen.
    page.set_viewport_size({"width": 375, "height": 812})
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.evaluate("document.getElementById('recommendations').scrollIntoView()")
    page.screenshot(path=ARTIFACTS / "ui-phone.png")


def test_every_control_is_labelled(page: Page) -> None:
    # GET /users was refused without the key and said so; a locator wait needs no eval,
    # which the page's CSP forbids.
    page.locator("#key-note", has_text="needs the API key").wait_for()
    unlabelled = page.eval_on_selector_all(
        "input, select",
        "els => els.filter(e => e.type !== 'hidden' && e.labels.length === 0).map(e => e.id)",
    )
    assert unlabelled == []
