"""Swagger UI's Authorize button with the API key, in a real headless Chromium against a live
server: /docs is what an operator tries first, and it must be able to send the key."""

from __future__ import annotations

import re
import shutil

import pytest
from playwright.sync_api import expect, sync_playwright

from api.main import create_app
from tests.api.routes.test_ui import CHROMIUM, FLAGS
from tests.conftest import LiveServer, make_settings

pytestmark = pytest.mark.slow

KEY = "swagger-key-0123456789"


@pytest.fixture(scope="module")
def server(indexed_dir, module_dir):
    data = module_dir
    shutil.copytree(indexed_dir / "qdrant", data / "qdrant")  # one owner per embedded shard
    with LiveServer(create_app(make_settings(data, api_key=KEY))) as live:
        yield live


def test_authorize_sends_the_key_to_a_protected_operation(server) -> None:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        page = browser.new_page()
        page.goto(str(server.base_url) + "/docs")
        reload = page.locator(".opblock", has=page.locator('[data-path="/model/reload"]'))

        reload.locator(".opblock-summary").first.click()  # expand the operation
        reload.locator(".try-out__btn").click()

        def execute() -> str:
            reload.locator("button.execute").click()
            status = reload.locator(".live-responses-table tr.response .response-col_status").first
            expect(status).to_have_text(re.compile(r"\d{3}"), timeout=60_000)
            text = status.inner_text().strip()
            reload.locator("button.btn-clear").click()
            return text

        assert execute() == "401"  # not authorized yet: the API refuses
        page.locator("button.authorize").first.click()
        modal = page.locator(".modal-ux")
        api_key = modal.locator(".auth-container", has_text="X-API-Key")
        api_key.locator("input").fill(KEY)
        api_key.locator("button.authorize").click()
        modal.locator("button.btn-done").first.click()
        assert execute() == "200"  # Swagger sent X-API-Key: the reload ran
        browser.close()
