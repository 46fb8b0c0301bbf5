"""bc66sim: a software Quectel BC66 / BC66-NA NB-IoT module over a real network."""

__version__ = "0.1.0"
