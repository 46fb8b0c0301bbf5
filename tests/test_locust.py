"""bc66sim.locust: Locust users that are emulated devices, against a loopback collector.

Locust runs in its own processes, as a user runs it (``locust -f …``): gevent's
monkey-patching must never reach this test process.  The locustfile is the
example's (examples/locust_devices/), on the ``ideal`` link so a run takes seconds.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

# Only looked for, never imported: importing locust monkey-patches this whole test
# process with gevent (threads become greenlets), which broke the blocking driver's
# loop thread in another test file.
if importlib.util.find_spec("locust") is None:
    pytest.skip("locust is not installed", allow_module_level=True)

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "locust_devices"
LOCUSTFILE = str(EXAMPLE / "locustfile.py")
#: What the example's first device (worker 0, number 0) is, and how workers number apart.
FIRST_IMEI_BODY = 86681803992144
DEVICES_PER_WORKER = 1_000_000


class Collector:
    """The example's collector, in a thread: acknowledges reports, or stays silent."""

    def __init__(self, *, answer: bool = True) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.reports: list[dict[str, object]] = []
        self._answer = answer
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(2048)
            except TimeoutError:
                continue
            report = json.loads(data)
            self.reports.append(report)
            if self._answer:
                self.sock.sendto(json.dumps({"ack": report["seq"]}).encode(), peer)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


@pytest.fixture
def collector() -> Iterator[Collector]:
    server = Collector()
    yield server
    server.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def locust(*args: str, env: dict[str, str] | None = None, log: Path) -> subprocess.Popen[bytes]:
    environment = {**os.environ, "SENSOR_NETWORK": "ideal", "SENSOR_PERIOD": "1", **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "locust", "-f", LOCUSTFILE, *args],
        env=environment,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def finish(process: subprocess.Popen[bytes], log: Path, timeout: float = 90) -> int:
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise AssertionError(f"locust did not finish:\n{log.read_text()[-3000:]}") from None


def stats(prefix: Path) -> dict[tuple[str, str], dict[str, str]]:
    with open(f"{prefix}_stats.csv", newline="") as file:
        return {(row["Type"], row["Name"]): row for row in csv.DictReader(file)}


def test_a_master_and_two_workers_run_devices_against_a_loopback_collector(
    tmp_path: Path, collector: Collector
) -> None:
    port = free_port()
    users = 10
    master = locust(
        "--master", "--headless", "--expect-workers", "2", "-u", str(users), "-r", "10",
        "-t", "10s", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
        "--host", f"udp://127.0.0.1:{collector.port}", "--csv", str(tmp_path / "run"),
        log=tmp_path / "master.log",
    )  # fmt: skip
    worker = ("--worker", "--master-host", "127.0.0.1", "--master-port", str(port))
    workers = [
        locust(*worker, log=tmp_path / "worker-uvloop.log"),
        # The standard loop, where uvloop is not installed, runs the same devices.
        locust(*worker, env={"BC66SIM_LOOP": "asyncio"}, log=tmp_path / "worker-asyncio.log"),
    ]
    code = finish(master, tmp_path / "master.log")
    for process, name in zip(workers, ("uvloop", "asyncio"), strict=True):
        assert finish(process, tmp_path / f"worker-{name}.log") == 0, name
    output = (tmp_path / "master.log").read_text()
    assert code == 0, output[-3000:]  # Locust's exit code is 1 when any request failed

    rows = stats(tmp_path / "run")
    for kind, name, at_least in [
        ("module", "power on", users), ("module", "attach", users), ("AT", "AT+CSQ", users),
        ("module", "wake", users), ("socket", "open UDP", users), ("socket", "send UDP", users),
        ("socket", "recv UDP", users), ("socket", "close UDP", users),
    ]:  # fmt: skip
        row = rows[(kind, name)]
        assert int(row["Request Count"]) >= at_least, (kind, name, row)
        assert int(row["Failure Count"]) == 0, (kind, name, row)
    assert int(rows[("", "Aggregated")]["Failure Count"]) == 0

    # Every device reported, with its own IMEI; the two workers numbered theirs apart.
    imeis = {str(report["imei"]) for report in collector.reports}
    assert len(imeis) == users
    workers_seen = {(int(imei[:14]) - FIRST_IMEI_BODY) // DEVICES_PER_WORKER for imei in imeis}
    assert workers_seen == {0, 1}
    sends = int(rows[("socket", "send UDP")]["Request Count"])
    assert len(collector.reports) >= sends - users  # a stopped user's last send may be cut

    # The power model ran for every device; the master sums the workers' energy.
    assert f"bc66sim: {users} devices used" in output


def listening(port: int) -> set[str]:
    """The local addresses TCP sockets listen on at ``port`` (/proc/net/tcp, tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


def test_failures_are_failures_and_the_web_ui_shows_the_requests(tmp_path: Path) -> None:
    """Also: without --web-host, the web UI of a locustfile that uses bc66sim listens
    on loopback only, as bc66sim's own control plane does."""
    silent = Collector(answer=False)  # takes the reports and never acknowledges one
    web = free_port()
    try:
        run = locust(
            "--autostart", "--autoquit", "1", "-u", "2", "-r", "2", "-t", "8s",
            "--web-port", str(web),
            "--host", f"udp://127.0.0.1:{silent.port}",
            env={"SENSOR_ACK_TIMEOUT": "1"}, log=tmp_path / "run.log",
        )  # fmt: skip
        seen: dict[str, dict[str, object]] = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and run.poll() is None:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{web}/stats/requests", timeout=5
                ) as r:
                    page = json.load(r)
            except OSError:
                time.sleep(0.2)
                continue
            assert listening(web) == {"0100007F"}, listening(web)  # 127.0.0.1, only
            seen = {str(row["name"]): row for row in page["stats"]}
            if int(seen.get("recv UDP", {}).get("num_failures", 0)) >= 2:  # type: ignore[call-overload]
                break
            time.sleep(0.2)
        code = finish(run, tmp_path / "run.log")
    finally:
        silent.close()
    assert seen["AT+CSQ"]["method"] == "AT"
    assert seen["open UDP"]["num_failures"] == 0
    assert int(seen["recv UDP"]["num_failures"]) >= 2  # type: ignore[call-overload]
    assert code == 1  # failures make Locust's exit code 1
    assert silent.reports  # the reports did reach the backend


PROBES = '''
import gevent
from locust import constant, task

from bc66sim.locust import BC66User


class Unattached(BC66User):
    """Its module cannot attach in time: one attach failure, then it leaves the test."""

    network = "ideal"
    attach_delay = 30
    attach_timeout = 1
    wait_time = constant(0.2)

    @task
    def use(self):
        self.modem.command("AT")


class Impatient(BC66User):
    """Gives up on a receive with a gevent.Timeout of its own: no failure, no BC66Timeout."""

    network = "ideal"
    attach_delay = 0
    wait_time = constant(0.2)

    @task
    def wait_briefly(self):
        port = int(self.host.rsplit(":", 1)[1])
        with self.modem.connect("UDP", "127.0.0.1", port) as sock:
            with gevent.Timeout(0.3, False):
                sock.recv(64, timeout=30)
        self.environment.events.request.fire(
            request_type="probe", name="quiet", response_time=0, response_length=0,
            exception=None, context={},
        )
'''


def test_a_device_that_cannot_attach_fails_once_and_a_users_own_timeout_stays_its_own(
    tmp_path: Path,
) -> None:
    silent = Collector(answer=False)
    locustfile = tmp_path / "probes.py"
    locustfile.write_text(PROBES)
    try:
        run = subprocess.Popen(
            [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "-u", "2",
             "-r", "2", "-t", "6s", "--host", f"udp://127.0.0.1:{silent.port}",
             "--csv", str(tmp_path / "run")],
            stdout=(tmp_path / "run.log").open("wb"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        code = finish(run, tmp_path / "run.log")
    finally:
        silent.close()
    rows = stats(tmp_path / "run")
    log = (tmp_path / "run.log").read_text()
    assert rows[("module", "attach")]["Failure Count"] == "1", log[-3000:]
    assert int(rows[("probe", "quiet")]["Request Count"]) >= 2, log[-3000:]
    # The receive given up on is neither a success nor a failure: it did not end.
    assert ("socket", "recv UDP") not in rows
    assert "no result after" not in log  # what a gevent.Timeout turned BC66Timeout said
    assert code == 1  # the attach failure


def test_the_test_process_itself_is_never_patched_by_gevent() -> None:
    # Importing locust anywhere in the suite would patch every other test's threads.
    assert "gevent" not in sys.modules
    assert "locust" not in sys.modules
