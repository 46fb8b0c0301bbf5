"""The network behind the emulated radio (DESIGN: ``net/``)."""

from bc66sim.net.base import Family, Flow, FlowListener, Network, NetError, Transport
from bc66sim.net.host import HostNetwork

__all__ = ["Family", "Flow", "FlowListener", "HostNetwork", "NetError", "Network", "Transport"]
