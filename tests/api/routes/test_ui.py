"""The web app (web/, React) in a real headless Chromium against a live API: a demo slice
with a few real albums whose committed covers went through the indexer (the local-cover path,
its cache, CNN cover vectors), a trained LightFM model and learned ranker, so every page has
real data and real cover images. Screenshots of each page go to tests/artifacts/ (not
committed; docs/img/ui.png is the Discover one)."""

from __future__ import annotations

import ast
import csv
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, Request, Route, sync_playwright

from api.main import create_app
from api.routes.ui import BUILD_HINT, WEB_DIST
from core.cover_cache import cover_cache_dir
from core.encoders.lyrics_terms import LyricsTermsEncoder
from core.store.edge import EdgeStore
from indexer.covers import CoverFetcher, build_cover_url_encoder
from indexer.local_covers import LocalCoverDir
from indexer.pipeline import Indexer
from tests.api.routes.test_users import OTHER, USER, USERS, slice_ids, train
from tests.conftest import (
    DEMO_COVERS,
    ROOT,
    LiveServer,
    copy_demo_covers,
    covered_demo_rows,
    demo_rows,
    make_settings,
    write_catalog,
)

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
#: Real demo albums indexed with their covers: few, so the cover embedding stays quick, enough
#: that the listener's twelve recommendations hold covered tracks.
ALBUMS = 8


def catalog_rows(data_dir: Path) -> list[dict[str, str]]:
    with (data_dir / "catalog" / "tracks.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def covered_albums(data_dir: Path) -> dict[str, list[dict[str, str]]]:
    """The indexed rows by the cover their catalog names (`album_url`)."""
    out: dict[str, list[dict[str, str]]] = {}
    for row in catalog_rows(data_dir):
        if row["album_url"]:
            out.setdefault(row["album_url"], []).append(row)
    return out


def by_the_listeners_artists(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """The covered rows outside the listener's playlist by one of its artists: the same-artist
    source proposes them, so the Listener page's recommendations hold real covers. With the
    first `ALBUMS` albums alone (none shares an artist or album with the playlist) whether one
    reached the top twelve was chance, and a CI run had none."""
    mine = set(USERS[USER])
    artists = {a for r in rows if r["id"] in mine for a in ast.literal_eval(r["artists"])}
    return [
        r
        for r in rows
        if r["album_url"] and r["id"] not in mine and artists & set(ast.literal_eval(r["artists"]))
    ]


@pytest.fixture(scope="module")
def data_dir(module_dir, lyrics_encoder) -> Path:
    """The listener's playlist, some lyrics tracks and every track of a few real demo albums
    with their committed covers, indexed with lyrics, terms, audio and CNN cover vectors (the
    covers read by the local-cover path into the indexer's cache, as `musicrec index` does),
    LightFM and the ranker trained; then one album's cached cover is removed (it must be a
    404, never a read of the catalog's file), and a scratch collection sits beside the served
    one for the console to drop."""
    header, rows = demo_rows()
    _, covered = covered_demo_rows(ALBUMS, lyrics=True)
    first_albums, have = {r["album_url"] for r in covered}, {r["id"] for r in covered}
    covered += [
        r for r in by_the_listeners_artists(demo_rows(covers=True)[1]) if r["id"] not in have
    ]
    others_only = set(USERS[OTHER]) - set(USERS[USER])  # a second playlist: no need here
    wanted = set(slice_ids()) - others_only - {r["id"] for r in covered}
    chosen = [r for r in rows if r["id"] in wanted] + covered
    root = module_dir
    settings = make_settings(root)
    copy_demo_covers(covered, root / "catalog")
    path = write_catalog(root / "catalog" / "tracks.csv", header, chosen)
    covers = build_cover_url_encoder(settings)
    assert covers is not None
    for name in ("tracks", "scratch"):
        store = EdgeStore(settings.qdrant_path, name)
        encoders = [lyrics_encoder, LyricsTermsEncoder(), covers] if name == "tracks" else []
        indexer = Indexer(
            store, encoders, batch_size=64, progress=False, cover_local_dir=settings.cover_local_dir
        )
        indexer.run(path)
        store.close()
    covers.close()
    with pytest.MonkeyPatch.context() as mp:
        train(root, mp)
    uncached = sorted(first_albums)[0]  # the listener's artists' covers stay cached
    url = LocalCoverDir(path, settings.cover_local_dir).canonical(uncached)
    with CoverFetcher(cover_cache_dir(settings)) as fetcher:
        fetcher.cache_path(url).unlink()
    (root / "uncached.txt").write_text(uncached)
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
    albums = covered_albums(data_dir)
    uncached = (data_dir / "uncached.txt").read_text()
    cached = next(url for url in sorted(albums) if url != uncached)
    no_cover = next(r["id"] for r in catalog_rows(data_dir) if not r["album_url"])
    client = server.client

    hit = client.get(f"/covers/{albums[cached][0]['id']}")
    assert hit.status_code == 200
    assert hit.headers["content-type"] == "image/jpeg"
    assert hit.content == (DEMO_COVERS / Path(cached).name).read_bytes()  # the committed file
    assert "max-age" in hit.headers["cache-control"]

    miss = client.get(f"/covers/{albums[uncached][0]['id']}")
    assert miss.status_code == 404  # not a read of the catalog's file, nor a redirect
    assert "location" not in miss.headers

    assert client.get(f"/covers/{no_cover}").status_code == 404
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

    # Cover-image search: a real album's committed cover finds that album first, shown with
    # its real cover; liking one of its tracks (the only seed now) brings the album's other
    # tracks, real covers loaded, into the recommendations.
    page.locator("#positive").get_by_role("button", name=re.compile("^Remove:")).click()
    page.locator("#positive").wait_for(state="detached")
    albums = covered_albums(data_dir)
    uncached = (data_dir / "uncached.txt").read_text()
    url = next(u for u in sorted(albums) if u != uncached)
    album = albums[url][0]["album_name"]
    page.get_by_role("radio", name="cover image").check()
    page.get_by_label("Image file").set_input_files(DEMO_COVERS / Path(url).name)
    page.get_by_role("button", name="Search", exact=True).click()
    hit = page.locator("#found .card").first
    hit.locator(".meta", has_text=album).wait_for()  # the new results, not the kept ones
    real_cover_loaded(page, "#found")
    # The cover alone weighs (the album's tracks tie on it): which of the album's tracks the
    # search returns first is the engine's choice among equals, and one with lyrics would
    # fuse its lyrics neighbours in, which can fill the page (a flaky test before).
    for modality in ("lyrics", "lyrics_terms"):
        page.get_by_role("slider", name=f"{modality} weight").fill("0")
    hit.get_by_role("button", name=re.compile("^Like:")).click()
    mates = {r["id"] for r in albums[url]} - {hit.get_attribute("data-track-id")}
    mate = page.locator(", ".join(f'#recommended .card[data-track-id="{m}"]' for m in mates))
    mate.first.wait_for()
    real_cover_loaded(page, "#recommended")
    shot(page, "discover")
    fits_the_phone(page)

    # Track (one with a real cover): stored metadata, nearest per modality and fused.
    mate.first.locator(".title").click()
    page.get_by_label("Stored metadata").wait_for()
    for view in ("audio", "cover", "fused"):
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


def sent_weights(request: Request) -> dict[str, float] | None:
    """The modality weights of a `POST /recommendations` the page sent; None for others."""
    if request.method != "POST" or not request.url.endswith("/recommendations"):
        return None
    return json.loads(request.post_data or "{}")["weights"]


def test_weights_and_seeds_work_from_the_keyboard(page: Page) -> None:
    """No mouse: Like and Not like this toggle with Space and Enter; a weight slider reached
    by focus or Tab moves with the arrow keys, Home and End, and the value shown beside it and
    the weight the next request sends move with it."""
    box = page.get_by_label("Words, a lyric, a mood")
    box.fill("love")
    box.press("Enter")
    cards = page.locator("#found .card")
    cards.nth(1).wait_for()
    like = cards.first.get_by_role("button", name=re.compile("^Like:"))
    like.focus()
    page.keyboard.press("Space")
    assert like.get_attribute("aria-pressed") == "true"
    page.locator("#positive li").first.wait_for()
    dislike = cards.nth(1).get_by_role("button", name=re.compile("^Not like this:"))
    dislike.focus()
    page.keyboard.press("Enter")
    assert dislike.get_attribute("aria-pressed") == "true"
    page.locator("#negative li").first.wait_for()
    page.locator("#recommended .card").first.wait_for()

    def moved(modality: str, key: str, value: float) -> None:
        """`key` on the focused slider sends `value` for `modality` and shows it."""
        with page.expect_request(lambda r: (sent_weights(r) or {}).get(modality) == value):
            page.keyboard.press(key)
        slider = page.get_by_role("slider", name=f"{modality} weight")
        assert slider.evaluate("e => e === document.activeElement")
        assert float(slider.input_value()) == value
        shown = page.locator(".weights label").filter(has=slider).inner_text()
        assert f"{value:.2f}" in shown

    # Every step a new set of weights: one seen before may be answered from the query cache.
    page.get_by_role("slider", name="lyrics weight").focus()
    moved("lyrics", "ArrowRight", 1.25)
    moved("lyrics", "ArrowRight", 1.5)
    page.keyboard.press("Tab")  # the next modality's slider, in the order shown
    moved("lyrics_terms", "ArrowLeft", 0.75)
    page.keyboard.press("Tab")
    moved("cover", "End", 2.0)
    moved("cover", "Home", 0.0)
    page.locator("#rec-note", has_text=re.compile(r"^(?!.*cover).*$")).wait_for()


def test_every_control_is_labelled(page: Page) -> None:
    for hash_ in ("#/", "#/listener", "#/stats", "#/collections/tracks"):
        page.goto(page.url.split("#")[0] + hash_)
        page.locator("main label").first.wait_for()
        unlabelled = page.eval_on_selector_all(
            "input, select",
            "els => els.filter(e => e.type !== 'hidden' && e.labels.length === 0).map(e => e.id)",
        )
        assert unlabelled == [], hash_
