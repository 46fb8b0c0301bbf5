"""Many modules in one process: the Python API and ``bc66sim fleet``; and the bench runs."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import tty
from pathlib import Path

import pytest

from bc66sim.fleet import Fleet
from support.links import Bc66simProcess

ROOT = Path(__file__).resolve().parent.parent


async def ask(place: str, line: bytes) -> bytes:
    host, port = place.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"ATE0\r" + line + b"\r")
    await reader.readuntil(b"OK\r\n")
    reply = await asyncio.wait_for(reader.readuntil(b"OK\r\n"), 5)
    writer.close()
    return reply


async def test_fleet_api_modules_are_independent() -> None:
    fleet = Fleet(3, attach_delay=0, first_ip="10.9.0.1")
    places = await fleet.start()
    try:
        await asyncio.sleep(0.05)
        assert len(set(places)) == 3
        addresses = [await ask(place, b"AT+CGPADDR") for place in places]
        assert addresses == [b"\r\n+CGPADDR: 1,10.9.0.%d\r\n\r\nOK\r\n" % n for n in (1, 2, 3)]
        await ask(places[0], b'AT+QICFG="viewmode",1')
        assert b'"viewmode",0' in await ask(places[1], b'AT+QICFG="viewmode"')
        # Each module is a device of its own (issue 16 §2): IMEI, IMSI and ICCID differ.
        for command in (b"AT+CGSN=1", b"AT+CIMI", b"AT+QCCID"):
            answers = [await ask(place, command) for place in places]
            assert len(set(answers)) == 3, (command, answers)
    finally:
        await fleet.close()


async def test_fleet_command_with_ptys(tmp_path: Path) -> None:
    fleet = await Bc66simProcess("fleet", "2", "--pty-dir", str(tmp_path),
                                 "--attach-delay", "0").start()  # fmt: skip
    assert "BC66 fleet of 2 ready on" in fleet.log[-1]
    try:
        for index in range(2):
            fd = os.open(tmp_path / f"ttyBC66-{index}", os.O_RDWR | os.O_NOCTTY)
            tty.setraw(fd)
            os.write(fd, b"AT+CGMM\r")
            reply = b""
            while b"OK\r\n" not in reply:
                reply += await asyncio.wait_for(asyncio.to_thread(os.read, fd, 100), 5)
            assert b"Quectel_BC66" in reply
            os.close(fd)
    finally:
        assert await fleet.stop() == 0


def test_bench_runs_and_prints_its_table(tmp_path: Path) -> None:
    """The bench tooling works (tiny sizes; nothing about speed is asserted here)."""
    doc = tmp_path / "PERFORMANCE.md"
    env = os.environ | {"BENCH_ROUND_TRIPS": "20", "BENCH_PAYLOAD": "20000",
                        "BENCH_FLEET": "3", "BENCH_FLEET_SECONDS": "1", "BENCH_FLEET_PERIOD": "0.5",
                        "BENCH_PACED_SECONDS": "0.2", "BENCH_FUZZ_LINES": "500",
                        "BENCH_LINK_SAMPLES": "3", "BENCH_LATENCY_ROUNDS": "2",
                        "BENCH_LOCUST": "3", "BENCH_LOCUST_SECONDS": "6",
                        "BENCH_DOC": str(doc)}  # fmt: skip
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py")], capture_output=True, text=True,
        timeout=300, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    rows = ["| bc66sim AT over tcp |", "| buffer access, text: lock-step / pipelined |",
            "| 115200 baud, host to network (AT+QISEND) |",
            "| fleet of 3, a report every 0.5 s: command p50 / p99 (ms) |",
            "| locust, 3 devices in one process: reports per device |",
            "| fuzz: crashes found / lines left unanswered | 0 / 0 |",
            "| ce2: rate up / down (kbit/s) |"]  # fmt: skip
    missing = [text for text in rows if text not in result.stdout]
    assert not missing, f"missing {missing}:\n{result.stdout}\n{result.stderr}"
    # A run of every section writes the performance page: each table in its place.
    page = doc.read_text()
    assert "{{" not in page
    for text in rows:
        assert text in page, text
    assert page.index("| bc66sim AT over tcp |") < page.index("## Payload throughput")


async def test_a_fleets_control_plane_serves_every_module_once() -> None:
    """One control plane for the fleet: a row and a feed per module, each module's events
    seen once, and the recent past within one budget for all."""
    import argparse

    import aiohttp

    from bc66sim.control.options import start_for_fleet
    from bc66sim.control.watch import FLEET_HISTORY_BYTES

    fleet = Fleet(3, attach_delay=0, first_ip="10.9.0.1")
    places = await fleet.start()
    args = argparse.Namespace(no_control=False, control="127.0.0.1:0", control_public=False,
                              state_dir=None)  # fmt: skip
    listening = len(fleet.traces[0].listeners)
    server = await start_for_fleet(fleet, args)
    assert server is not None
    # Module 0's first watch (a serve's budget) was replaced, not left listening.
    assert len(fleet.traces[0].listeners) == listening + 1
    try:
        assert [watch.place for watch in server.watches] == places
        assert all(w.budget.bytes == FLEET_HISTORY_BYTES // 3 for w in server.watches)
        await ask(places[1], b"AT+CGMM")
        headers = {"Authorization": f"Bearer {server.token}"}
        async with aiohttp.ClientSession(headers=headers) as session:
            async with session.get(server.url + "/modules") as response:
                rows = await response.json()
            assert [row["place"] for row in rows] == places
            assert rows[1]["uart_bytes"]["to_module"] > 0  # the one asked
            assert rows[2]["uart_bytes"]["to_module"] == 0  # one not asked
            async with session.get(server.url + "/modules/2/status") as response:
                assert (await response.json())["radio"]["ip"] == "10.9.0.3"
            async with session.get(server.url + "/modules/3/status") as response:
                assert response.status == 404
        fleet.modems[0].emit_urc(b"\r\n+TEST: 0\r\n")
        assert [e["text"] for e in server.watches[0].past() if e["type"] == "urc"] == ["+TEST: 0"]
    finally:
        await server.close()
        await fleet.close()


# -- fleet --workers (shards.py) ----------------------------------------------------------


def children(pid: int) -> set[int]:
    """The live child processes of ``pid`` (Linux /proc)."""
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.update(int(child) for child in text)
    return found


def alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


async def start_sharded(*args: str) -> tuple[asyncio.subprocess.Process, list[str], list[str]]:
    fleet = await Bc66simProcess("fleet", *args, "--attach-delay", "0").start(timeout=60)
    assert fleet.process is not None
    return fleet.process, fleet.where.split(","), fleet.log


async def test_workers_share_the_fleet_every_module_reachable_and_distinct() -> None:
    open_before = len(os.listdir("/proc/self/fd"))
    process, places, log = await start_sharded("7", "--workers", "3")
    try:
        spawned = {pid for pid in children(process.pid)
                   if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text()}  # fmt: skip
        assert len(spawned) == 3, log
        assert len(places) == len(set(places)) == 7
        # Module n is the same device whichever worker serves it: its address and IMEI
        # follow from n.
        addresses = [await ask(place, b"AT+CGPADDR") for place in places]
        assert addresses == [b"\r\n+CGPADDR: 1,10.20.0.%d\r\n\r\nOK\r\n" % n for n in range(1, 8)]
        imeis = {await ask(place, b"AT+CGSN=1") for place in places}
        assert len(imeis) == 7
    finally:
        process.terminate()
        assert await asyncio.wait_for(process.wait(), 30) == 0
    assert not any(alive(pid) for pid in spawned)  # every worker gone, none a zombie
    for place in places:  # and nothing listens any more
        host, port = place.rsplit(":", 1)
        try:
            _, writer = await asyncio.open_connection(host, int(port))
        except ConnectionRefusedError:
            continue
        writer.close()
        raise AssertionError(f"{place} still listens")
    assert len(os.listdir("/proc/self/fd")) == open_before


async def test_workers_on_ptys_and_a_lost_worker_stops_the_fleet(tmp_path: Path) -> None:
    process, places, _ = await start_sharded("4", "--workers", "2", "--pty-dir", str(tmp_path))
    try:
        assert places == [str(tmp_path / f"ttyBC66-{n}") for n in range(4)]
        for place in places:
            fd = os.open(place, os.O_RDWR | os.O_NOCTTY)
            tty.setraw(fd)
            os.write(fd, b"AT+CGMM\r")
            reply = b""
            while b"OK\r\n" not in reply:
                reply += await asyncio.wait_for(asyncio.to_thread(os.read, fd, 100), 5)
            os.close(fd)
            assert b"BC66" in reply
        workers = [pid for pid in children(process.pid)
                   if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text()]  # fmt: skip
        os.kill(workers[0], 9)  # a worker lost: the fleet must not go on with a hole
        assert await asyncio.wait_for(process.wait(), 30) == 1
        assert not any(alive(pid) for pid in workers)
        # Every pty link removed, the lost worker's too (the parent clears what it left).
        assert not any(os.path.lexists(place) for place in places)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_workers_one_control_plane_for_the_whole_fleet(tmp_path: Path) -> None:
    """``fleet --workers``: one address and one token (control.json) for every module,
    whichever worker holds it; faults, the feed and the pages reach the right one."""
    import aiohttp

    from bc66sim.control.client import ControlClient, ControlError

    process, places, log = await start_sharded("5", "--workers", "2",
                                               "--state-dir", str(tmp_path))  # fmt: skip
    try:
        control = ControlClient.from_state_dir(tmp_path)
        rows = control.request("GET", "/modules")
        assert [row["index"] for row in rows] == list(range(5)), log
        assert [row["place"] for row in rows] == places
        # Module 4 is in the second worker: its own address, under the fleet's number.
        assert control.request("GET", "/modules/4/status")["radio"]["ip"] == "10.20.0.5"
        assert control.request("GET", "/status")["radio"]["ip"] == "10.20.0.1"  # module 0
        control.request("POST", "/modules/3/faults/detach", {})
        assert b"+CGATT: 0" in await ask(places[3], b"AT+CGATT?")
        assert b"+CGATT: 1" in await ask(places[2], b"AT+CGATT?")  # its neighbour untouched
        try:
            control.request("GET", "/modules/5/status")
            raise AssertionError("module 5 of 5 answered")
        except ControlError as exc:
            assert exc.status == 404
        try:
            ControlClient(control.url, "wrong").status()
            raise AssertionError("a wrong token was let through")
        except ControlError as exc:
            assert exc.status == 401

        # (unsafe: a jar that keeps cookies of an IP address, as a browser does)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            feed = f"{control.url}/modules/4/events?token={control.token}"
            async with session.ws_connect(feed) as ws:
                assert (await ws.receive_json(timeout=10))["type"] == "hello"
                await ask(places[4], b"AT+CGMM")
                while True:  # the recent past, then what was just said
                    event = await ws.receive_json(timeout=10)
                    if event["type"] == "uart" and "AT+CGMM" in event["data"]:
                        break
            page_url = f"{control.url}/dashboard?token={control.token}"
            async with session.get(page_url) as page:
                html = await page.text()
            assert html.count('<tr data-index="') == 5
            async with session.get(f"{control.url}/dashboard/4") as page:  # by its cookie
                assert page.status == 200
                assert "module 4" in await page.text()
    finally:
        process.terminate()
        assert await asyncio.wait_for(process.wait(), 30) == 0
    assert not (tmp_path / "control.json").exists()
    host, port = control.url.removeprefix("http://").rsplit(":", 1)
    try:
        _, writer = await asyncio.open_connection(host, int(port))
    except ConnectionRefusedError:
        return
    writer.close()
    raise AssertionError("the control plane still listens")


async def test_workers_a_busy_port_is_a_clear_error_not_a_crash() -> None:
    """A worker that cannot listen on its module's port says why, and the fleet stops."""
    import socket

    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    busy = holder.getsockname()[1]
    try:  # module 3's port (BASE+3) is taken: the second worker's
        fleet = Bc66simProcess("fleet", "4", "--workers", "2", "--attach-delay", "0",
                               "--tcp", f"127.0.0.1:{busy - 3}")  # fmt: skip
        with pytest.raises(AssertionError, match="did not start"):
            await fleet.start(timeout=30)
        text = "\n".join(fleet.log)
        assert fleet.process is not None and fleet.process.returncode == 1, text
        assert f"127.0.0.1:{busy}" in text and "Traceback" not in text, text
    finally:
        holder.close()


async def test_workers_control_plane_many_feeds_and_a_stuck_worker(tmp_path: Path) -> None:
    """Open feeds never hold other requests back; a worker that stopped answering makes
    no request hang past its timeout, and control.json still goes at exit."""
    import signal

    import aiohttp

    from bc66sim.control.client import ControlClient

    process, _, log = await start_sharded("3", "--workers", "2", "--state-dir", str(tmp_path))
    workers = sorted(pid for pid in children(process.pid)
                     if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text())  # fmt: skip
    try:
        control = ControlClient.from_state_dir(tmp_path, timeout=20)
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:
            feeds = [await session.ws_connect(f"{control.url}/modules/2/events?token="
                                              f"{control.token}") for _ in range(120)]  # fmt: skip
            status = await asyncio.to_thread(control.request, "GET", "/modules/2/status")
            assert status["radio"]["ip"] == "10.20.0.3", log
            for feed in feeds:
                await feed.close()
        os.kill(workers[1], signal.SIGSTOP)  # module 2's worker answers nothing now
        asked = asyncio.create_task(asyncio.to_thread(control.request, "GET", "/modules/2/status"))
        await asyncio.sleep(0.5)
        process.terminate()
        assert await asyncio.wait_for(process.wait(), 60) == 0
        assert not (tmp_path / "control.json").exists()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asked, 30)
    finally:
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        if process.returncode is None:
            process.kill()
            await process.wait()
