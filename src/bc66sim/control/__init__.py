"""The control plane (issue 12 §3): drive a running ``bc66sim serve`` from outside.

- ``options.py`` ``serve``'s ``--control`` options, and starting the server as they ask
- ``server.py``  the HTTP + JSON API and the WebSocket event feed (aiohttp), the token
- ``faults.py``  what each request does to the module (and to the link, when there is one)
- ``status.py``  the module's state as JSON
- ``stream.py``  the live feed: events fanned out to clients, each with a bounded queue
- ``client.py``  a small blocking client (urllib): ``bc66sim ctl`` and the pytest fixture
- ``ctl.py``     ``bc66sim ctl``

Security: loopback only unless told otherwise, and every request carries the
per-run bearer token that ``serve`` writes (mode 0600) to ``<state-dir>/control.json``.
"""
