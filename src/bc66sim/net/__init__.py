"""The network behind the emulated radio (DESIGN: ``net/``)."""

from bc66sim.net.base import Family, Flow, FlowListener, NetError, Network, Transport
from bc66sim.net.host import HostNetwork

__all__ = [
    "Family",
    "Flow",
    "FlowListener",
    "HostNetwork",
    "NetError",
    "Network",
    "Resolution",
    "Transport",
]
