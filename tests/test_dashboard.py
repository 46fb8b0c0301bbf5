"""The live dashboard (issue 14 §1) in a real headless browser: Debian's Chromium,
driven by Playwright, against real ``bc66sim serve`` and ``bc66sim fleet`` processes.

With ``BC66SIM_SCREENSHOTS=DIR`` set, the tests also save a screenshot of each view
there (``make screenshots`` refreshes the ones in docs/images/).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from bc66sim.control.client import ControlClient
from support.links import Bc66simProcess
from support.peers import TcpPeer
from test_control import OK, ControlledLink, open_socket

#: Debian's chromium (``.ci/run`` installs it); BC66SIM_CHROMIUM points elsewhere.
CHROMIUM = os.environ.get("BC66SIM_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
#: Headless, and none of Chromium's own calls out to the internet (the machine has none).
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]  # fmt: skip
SCREENSHOTS = os.environ.get("BC66SIM_SCREENSHOTS")


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: scripts/install-test-servers installs it")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


@pytest.fixture
async def uart(tmp_path: Path) -> AsyncIterator[ControlledLink]:
    """``bc66sim serve`` on the ce0 link (so the page has a link to show), echo off."""
    link = await ControlledLink(tmp_path, "--network", "ce0", "--seed", "1").start()
    await link.sync(timeout=30)
    assert await link.command("ATE0", timeout=10) == b"ATE0\r" + OK
    yield link
    await link.close()


async def open_dashboard(browser: Browser, url: str) -> Page:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors  # type: ignore[attr-defined]
    await page.goto(url)
    await expect(page.locator("#feed-state")).to_have_text("live")
    return page


async def screenshot(page: Page, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(Path(SCREENSHOTS) / name), full_page=True)


async def test_a_command_typed_at_the_host_shows_within_a_second(
    browser: Browser, uart: ControlledLink
) -> None:
    dashboard = f"{uart.control.url}/dashboard?token={uart.control.token}"
    page = await open_dashboard(browser, dashboard)
    trace = page.locator("#trace-lines")
    await expect(trace).to_contain_text("ATE0")  # the recent past is there on opening
    await uart.write(b"AT+CGMI\r")
    line = trace.locator("li.to_module", has_text="AT+CGMI")
    await expect(line).to_be_visible(timeout=1000)
    await expect(trace.locator("li.to_host", has_text="Quectel")).to_be_visible()
    await uart.expect(b"\r\nQuectel_Ltd\r\n\r\nOK\r\n")
    # Searching hides what does not match; pausing holds new lines back.
    await page.fill("#trace-search", "cgmi")
    await expect(trace.locator("li:visible")).to_have_count(1)
    await page.fill("#trace-search", "")
    await page.click("#trace-pause")
    assert (await uart.command("AT+CGMR")).endswith(OK)
    await expect(page.locator("#trace-pause")).to_contain_text("new")
    await expect(trace.locator("li", has_text="AT+CGMR")).to_have_count(0)
    await page.click("#trace-pause")
    await expect(trace.locator("li", has_text="AT+CGMR")).to_have_count(1)
    # The rest of the page: the link, the power state, the energy.
    await expect(page.locator("#link-profile")).to_contain_text("ce0")
    await expect(page.locator("#power-state")).to_have_text(re.compile("connected|idle"))
    await expect(page.locator("#energy")).to_contain_text("mAh")
    await expect(page.locator("#battery-life")).to_contain_text("2400 mAh lasts")
    assert "token" not in page.url  # out of the address bar and its history
    # A page opened later without the token (a bookmark, a new tab) works by the cookie.
    later = await page.context.new_page()
    await later.goto(f"{uart.control.url}/dashboard/0")
    await expect(later.locator("#feed-state")).to_have_text("live")
    await expect(later.locator("#power-state")).to_have_text(re.compile("connected|idle"))
    await expect(page.locator("#energy-states")).to_contain_text("connected")
    assert await page.locator("#timeline rect").count() >= 1
    assert page.errors == []  # type: ignore[attr-defined]


async def test_fault_buttons_change_the_module_state(
    browser: Browser, uart: ControlledLink, peer: TcpPeer
) -> None:
    await open_socket(uart, peer.port)
    page = await open_dashboard(browser, f"{uart.control.url}/dashboard?token={uart.control.token}")
    rows = page.locator("#socket-rows tr")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("connected")
    await expect(page.locator("#link-rtt")).to_contain_text("ms")  # the handshake's
    await screenshot(page, "dashboard-module.png")
    await page.click("button[data-fault=detach]")
    await expect(page.locator("#attached")).to_have_text("no")
    await uart.expect(b'\r\n+QIURC: "closed",0\r\n')  # a detach closes the sockets
    assert b"+CGATT: 0" in await uart.command("AT+CGATT?")
    await expect(rows.first).to_contain_text("remote_closing")
    await page.click("button[data-fault=attach]")
    await expect(page.locator("#attached")).to_have_text("yes", timeout=10_000)
    await page.click("button[data-fault=coverage-loss]")
    await expect(page.locator("#link-service")).to_contain_text("no: back in")
    assert uart.control.status()["link"]["in_service"] is False
    await expect(page.locator("#trace-lines li.fault", has_text="coverage-loss")).to_have_count(1)


async def test_the_page_says_a_urc_and_resets_a_peer(
    browser: Browser, uart: ControlledLink, peer: TcpPeer
) -> None:
    await open_socket(uart, peer.port)
    page = await open_dashboard(browser, f"{uart.control.url}/dashboard?token={uart.control.token}")
    await page.fill("#urc-text", '+QIURC: "pdpdeact",1')
    await page.click("#urc-send")
    await uart.expect(b'\r\n+QIURC: "pdpdeact",1\r\n')
    await page.click("#socket-rows button:has-text('Peer reset')")
    await uart.expect(b'\r\n+QIURC: "closed",0\r\n')
    await asyncio.wait_for(peer.closed.wait(), 5)
    await expect(page.locator("#socket-rows tr").first).to_contain_text("remote_closing")
    await expect(page.locator("#fault-result")).to_contain_text("reset-peer")


async def test_host_supplied_markup_is_shown_not_run(
    browser: Browser, uart: ControlledLink, peer: TcpPeer
) -> None:
    page = await open_dashboard(browser, f"{uart.control.url}/dashboard?token={uart.control.token}")
    markup = "<script>window.pwned=1</script>"
    await uart.write(f'AT+QICFG="{markup}"\r'.encode())  # a command line the module refuses
    await uart.expect(b"\r\nERROR\r\n")
    await open_socket(uart, peer.port)
    payload = '<img src=x onerror="window.pwned=2">'
    await uart.write(f"AT+QISEND=0,{len(payload)}\r".encode())
    await uart.read_until(b"> ")
    await uart.write(payload.encode())  # data mode: the payload as the host sends it
    await uart.read_until(b"SEND OK\r\n")
    uart.control.urc("+TEST: <b>bold</b>")
    trace = page.locator("#trace-lines")
    await expect(trace.locator("li.to_module", has_text=markup)).to_have_count(1)
    await expect(trace.locator("li.data", has_text=payload)).to_have_count(1)
    await expect(trace.locator("li.urc", has_text="+TEST: <b>bold</b>")).to_have_count(1)
    assert await page.evaluate("window.pwned") is None
    assert await trace.locator("script, img, b").count() == 0


@pytest.mark.parametrize("workers", [(), ("--workers", "2")], ids=["one-process", "workers"])
async def test_the_fleet_page_lists_every_module_and_opens_one(
    browser: Browser, tmp_path: Path, workers: tuple[str, ...]
) -> None:
    """Module 2 is the second worker's, with workers: the page and its feed pass through
    the fleet's one control plane (control/proxy.py)."""
    fleet = await Bc66simProcess("fleet", "3", "--tcp", "127.0.0.1:0", "--attach-delay", "0",
                                 "--state-dir", str(tmp_path), *workers).start()  # fmt: skip
    try:
        places = fleet.where.split(",")
        control = ControlClient.from_state_dir(tmp_path)
        page = await open_dashboard(browser, f"{control.url}/dashboard?token={control.token}")
        rows = page.locator("#fleet-rows tr")
        await expect(rows).to_have_count(3)
        host, port = places[2].rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"AT+CGSN=1\r")
        await asyncio.wait_for(reader.readuntil(b"OK\r\n"), 10)
        await expect(rows.nth(2).locator("td").nth(7)).not_to_have_text("0")  # bytes in
        await screenshot(page, "dashboard-fleet.png")
        await page.click("#fleet-rows a >> text='2'")
        await expect(page.locator("h1")).to_contain_text("module 2")
        await expect(page.locator("#feed-state")).to_have_text("live")
        writer.write(b"AT+CGMM\r")
        await expect(page.locator("#trace-lines li.to_module", has_text="AT+CGMM")).to_be_visible(
            timeout=1000
        )
        writer.close()
    finally:
        await fleet.stop()


async def test_the_pages_need_the_token_and_forbid_inline_script(uart: ControlledLink) -> None:
    url, token = uart.control.url, uart.control.token
    # unsafe: aiohttp keeps cookies of an IP address only when told (browsers do)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        async with session.get(f"{url}/dashboard") as response:
            assert response.status == 401
        async with session.get(f"{url}/status?token={token}") as response:
            assert response.status == 401  # the API takes the header only
        async with session.get(f"{url}/?token={token}", allow_redirects=False) as response:
            assert response.status == 302
            assert response.headers["Location"] == f"/dashboard?token={token}"
        async with session.get(f"{url}/dashboard?token={token}") as response:
            assert response.status == 200
            policy = response.headers["Content-Security-Policy"]
            assert "script-src 'self'" in policy and "unsafe-inline" not in policy
            assert response.headers["Referrer-Policy"] == "no-referrer"
            port = url.rsplit(":", 1)[1]
            cookie = response.cookies[f"bc66sim-token-{port}"]  # one serve's, not another's
            assert cookie["httponly"] and cookie["samesite"] == "Strict"
        async with session.get(f"{url}/dashboard/0") as response:
            assert response.status == 200  # the cookie, as a browser sends it
        async with session.get(f"{url}/dashboard/7") as response:
            assert response.status == 404
        # Another site (or another port of this host: the same site) may not use it.
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(f"{url}/events", headers={"Origin": "http://127.0.0.1:1"})
        assert refused.value.status == 403
        own = {"Origin": url}
        async with session.ws_connect(f"{url}/events", headers=own) as ws:
            assert json.loads(await ws.receive_str(timeout=5))["type"] == "hello"
        session.cookie_jar.clear()
        async with session.get(f"{url}/static/dashboard.js") as response:
            assert response.status == 200 and "textContent" in await response.text()
        async with session.get(f"{url}/static/..%2Fserver.py") as response:
            assert response.status == 404
