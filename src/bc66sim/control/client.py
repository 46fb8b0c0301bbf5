"""A small blocking client of the control plane (urllib only): ``bc66sim ctl`` and the
pytest fixture's ``bc66_emulator.control`` use it.

::

    control = ControlClient.from_state_dir(Path("/tmp/state"))   # reads control.json
    control.detach()
    control.override("AT+CSQ", ["+CSQ: 5,0", "OK"], once=True)
    control.status()["radio"]["attached"]
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

INFO_FILE = "control.json"


class ControlError(Exception):
    """The control plane refused (``status`` is the HTTP status) or cannot be reached
    (``status`` 0); the message is one line for a person."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class ControlClient:
    """The control plane of one running ``bc66sim serve``."""

    def __init__(self, url: str, token: str, *, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    @classmethod
    def from_state_dir(cls, state_dir: Path, *, timeout: float = 10.0) -> ControlClient:
        """The serve that uses ``state_dir``, found through its ``control.json``."""
        path = Path(state_dir) / INFO_FILE
        try:
            info = json.loads(path.read_text())
            url, token, pid = str(info["url"]), str(info["token"]), int(info["pid"])
        except FileNotFoundError:
            raise ControlError(
                f"no control plane found: {path} does not exist "
                "(is bc66sim serve running with this --state-dir?)"
            ) from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ControlError(f"cannot read {path}: {exc}") from None
        if not _alive(pid):
            raise ControlError(f"{path} is stale: the serve that wrote it (pid {pid}) is gone")
        return cls(url, token, timeout=timeout)

    # -- HTTP ------------------------------------------------------------------------------

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One request; its JSON answer.  Raises :class:`ControlError`."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise ControlError(_refusal(exc), exc.code) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ControlError(f"cannot reach the control plane at {self.url}: {reason} "
                               "(is bc66sim serve running?)") from None  # fmt: skip

    def fault(self, name: str, /, **body: Any) -> Any:
        """``POST /faults/<name>`` with ``body``."""
        return self.request("POST", f"/faults/{name}", body)

    # -- what ctl and the fixture call -------------------------------------------------------

    def status(self) -> Any:
        return self.request("GET", "/status")

    def energy(self) -> Any:
        return self.request("GET", "/energy")

    def detach(self) -> Any:
        return self.fault("detach")

    def attach(self) -> Any:
        return self.fault("attach")

    def reset_peer(self, connect_id: int) -> Any:
        return self.fault("reset-peer", id=connect_id)

    def override(self, command: str, response: str | list[str], *, once: bool = False) -> Any:
        """Answer ``command`` with ``response``: a string is sent as is, lines are framed."""
        return self.fault("override", command=command, response=response, once=once)

    def clear_overrides(self) -> Any:
        return self.request("DELETE", "/overrides")

    def urc(self, text: str) -> Any:
        return self.fault("urc", text=text)

    def pin(self, name: str, action: str) -> Any:
        return self.fault("pin", name=name, action=action)

    def coverage_loss(self, seconds: float) -> Any:
        return self.fault("coverage-loss", seconds=seconds)

    def ce(self, level: int) -> Any:
        return self.fault("ce", level=level)

    def signal(self, rsrp: float, sinr: float) -> Any:
        return self.fault("signal", rsrp=rsrp, sinr=sinr)

    def drop(self, direction: str, count: int) -> Any:
        return self.fault("drop", direction=direction, count=count)

    def delay(self, direction: str, count: int, seconds: float) -> Any:
        return self.fault("delay", direction=direction, count=count, seconds=seconds)

    def service_unreachable(self, service: str, seconds: float | None = None) -> Any:
        return self.fault("service-unreachable", service=service, seconds=seconds)


def _refusal(exc: urllib.error.HTTPError) -> str:
    try:
        message = json.loads(exc.read())["error"]
    except Exception:
        message = exc.reason
    return f"{message} (HTTP {exc.code})"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: it exists
    return True
