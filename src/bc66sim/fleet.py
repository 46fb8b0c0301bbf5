"""Many emulated modules in one process: ``bc66sim fleet N`` and :class:`Fleet`.

Each module is a whole emulated BC66 (its own state, sockets and address) on its
own UART: a TCP port (``--tcp HOST:BASE``; base 0 picks free ports) or a pty
linked in a folder (``--pty-dir DIR``: ``DIR/ttyBC66-<n>``).  They share one event
loop, so one process on one core serves the fleet.
"""

from __future__ import annotations

import contextlib
import gc
import ipaddress
import logging
import resource
from pathlib import Path

from bc66sim.module.identity import numbered_imei, numbered_imsi
from bc66sim.module.modem import Modem, ModemConfig
from bc66sim.module.nvram import Nvram
from bc66sim.net.host import HostNetwork
from bc66sim.net.policy import DestinationPolicy
from bc66sim.transport.base import Port
from bc66sim.transport.pty import PtyPort
from bc66sim.transport.tcp import TcpPort
from bc66sim.transport.trace import Trace

log = logging.getLogger(__name__)

DEFAULT = ModemConfig()

#: File descriptors a module may use: its UART (two for a pty) and five sockets.
FDS_PER_MODULE = 8


def raise_fd_limit(needed: int) -> None:
    """Lift the limit on open files to ``needed``: the soft one up to the hard one, and
    the hard one too where the process may (root, CAP_SYS_RESOURCE); else say so."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        with contextlib.suppress(ValueError, OSError):  # not allowed: keep the hard limit
            resource.setrlimit(resource.RLIMIT_NOFILE, (needed, needed))
            soft, hard = needed, needed
    target = hard if hard != resource.RLIM_INFINITY else max(soft, needed)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < needed:
        log.warning("only %d open files allowed; %d modules may need %d", target,
                    needed // FDS_PER_MODULE, needed)  # fmt: skip


class Fleet:
    """``count`` emulated modules; :meth:`start` returns where each one is."""

    def __init__(
        self,
        count: int,
        *,
        tcp_host: str = "127.0.0.1",
        base_port: int = 0,
        pty_dir: Path | None = None,
        attach_delay: float = 2.0,
        state_dir: Path | None = None,
        first_ip: str = "10.20.0.1",
        model: str = "BC66",
        policy: DestinationPolicy | None = None,
        first_index: int = 0,
    ) -> None:
        self.count = count
        #: The first module's number in a fleet shared by workers (shards.py): module
        #: n's address, IMEI, IMSI, port, pty and state folder all follow from it.
        self.first_index = first_index
        self._tcp_host = tcp_host
        self._base_port = base_port
        self._pty_dir = pty_dir
        self._attach_delay = attach_delay
        self._state_dir = state_dir
        self._first_ip = ipaddress.ip_address(first_ip)
        self._model = model
        self._policy = policy
        self.modems: list[Modem] = []
        #: Each module's AT trace (the control plane's feed of it) and where it is.
        self.traces: list[Trace] = []
        self.places: list[str] = []
        self._ports: list[Port] = []

    async def start(self) -> list[str]:
        raise_fd_limit(64 + self.count * FDS_PER_MODULE)
        for index in range(self.first_index, self.first_index + self.count):
            # Each module is a device of its own: its own address, IMEI, IMSI and ICCID.
            config = ModemConfig(
                attach_delay=self._attach_delay,
                ip_address=str(self._first_ip + index),
                model=self._model,
                policy=self._policy,
                imei=numbered_imei(DEFAULT.imei, index),
                imsi=numbered_imsi(DEFAULT.imsi, index),
            )
            state = self._state_dir / f"module-{index}" if self._state_dir else None
            modem = Modem(HostNetwork(), config=config, nvram=Nvram(state))
            port: Port
            if self._pty_dir is not None:
                port = PtyPort(self._pty_dir / f"ttyBC66-{index}")
            else:
                port = TcpPort(self._tcp_host, self._base_port + index if self._base_port else 0)
            self._ports.append(port)
            trace = Trace()
            self.places.append(await port.open(modem, trace))
            self.traces.append(trace)
            self.modems.append(modem)
            modem.power_on()
        # The modules live as long as the fleet: the cyclic collector need not walk
        # them in every full collection, each a pause of every module's answers.
        gc.freeze()
        return self.places

    async def close(self) -> None:
        for modem in self.modems:
            await modem.close()
        for port in self._ports:
            await port.close()
