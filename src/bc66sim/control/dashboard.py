"""The live dashboard: server-rendered pages, one small script, no build step.

Two pages, served by the control plane on its port and behind its token:

- a module's page (``/dashboard``, ``/dashboard/<n>``): the AT trace (colour per
  direction, URCs marked, searchable, pausable), the socket table, the power
  timeline with the energy so far and the projected battery life, the link with
  its live round-trip time and rates, and a button per fault;
- a fleet's page (``/dashboard`` when it serves more than one module): one row
  per module, each a link to its page.

The page carries the token (its ``data-token``) for the script's requests: only
someone who had it got the page, and the header it goes in is what a cross-site
page cannot forge.  The HTML is rendered here with every value escaped
(:func:`html.escape`); the script (``static/dashboard.js``) keeps it live from ``/status`` and the
``/events`` feed and writes whatever came from the host or the network only as
text nodes, never as markup.  The Content-Security-Policy allows no inline
script at all, so even a mistake there could not run host-supplied text.
"""

from __future__ import annotations

import html
from importlib import resources
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bc66sim.control.status import status

if TYPE_CHECKING:
    from bc66sim.control.watch import Watch

#: Files under static/ and their types; nothing else is served from there.
STATIC = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}

#: Scripts and styles from this server only, no inline ones; no framing; the token
#: in the address is not sent on as a Referer.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}

#: The fault buttons: (label, fault name, JSON body, what it does).
FAULT_BUTTONS: list[tuple[str, str, str, str]] = [
    ("Detach", "detach", "{}", "the network detaches the module"),
    ("Attach", "attach", "{}", "attach again"),
    ("Coverage loss 30 s", "coverage-loss", '{"seconds": 30}', "no radio for 30 s"),
    ("CE 0", "ce", '{"level": 0}', "good coverage"),
    ("CE 1", "ce", '{"level": 1}', "poor coverage"),
    ("CE 2", "ce", '{"level": 2}', "the cell edge"),
    ("Drop next uplink", "drop", '{"direction": "up", "count": 1}', "lose one packet up"),
    ("Drop next downlink", "drop", '{"direction": "down", "count": 1}', "lose one packet down"),
    (
        "DNS unreachable 60 s",
        "service-unreachable",
        '{"service": "dns", "seconds": 60}',
        "DNS queries go unanswered",
    ),
    (
        "NTP unreachable 60 s",
        "service-unreachable",
        '{"service": "ntp", "seconds": 60}',
        "NTP queries go unanswered",
    ),
    ("Pulse RESET", "pin", '{"name": "RESET", "action": "pulse"}', "the module reboots"),
    ("Pulse PWRKEY", "pin", '{"name": "PWRKEY", "action": "pulse"}', "power key"),
    ("Pulse PSM_EINT", "pin", '{"name": "PSM_EINT", "action": "pulse"}', "wake from deep sleep"),
]


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _page(title: str, body: str, *, api: str, battery_mah: float, token: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title>
<link rel="stylesheet" href="/static/dashboard.css">
<script src="/static/dashboard.js" defer></script>
</head>
<body data-api="{_e(api)}" data-battery-mah="{_e(battery_mah)}" data-token="{_e(token)}">
{body}
</body>
</html>
"""


def module_page(watch: Watch, index: int, count: int, *, battery_mah: float,
                token: str) -> str:  # fmt: skip
    """One module's page, rendered with its state now; the script keeps it live."""
    state = status(watch.modem, battery_mah)
    api = "" if count == 1 else f"/modules/{index}"
    fleet = '<a href="/dashboard" id="to-fleet">fleet</a> · ' if count > 1 else ""
    buttons = "\n".join(
        f'<button type="button" class="fault" data-fault="{_e(name)}" data-body="{_e(body)}" '
        f'title="{_e(why)}">{_e(label)}</button>'
        for label, name, body, why in FAULT_BUTTONS
    )
    rows = "\n".join(_socket_row(sock) for sock in state["sockets"])
    link = state.get("link") or {}
    body = f"""<header>
<h1>{_e(state["model"])} <span class="muted">module {index}</span></h1>
<p class="muted">{fleet}{_e(watch.place)} · <span id="feed-state">connecting…</span></p>
</header>
<main class="grid">
<section id="radio" class="card">
<h2>Radio and power</h2>
<dl>
<dt>power</dt><dd id="power-state">{_e(state["power"]["state"])}</dd>
<dt>attached</dt><dd id="attached">{_e("yes" if state["radio"]["attached"] else "no")}</dd>
<dt>address</dt><dd id="ip">{_e(state["radio"]["ip"] or "–")}</dd>
<dt>energy</dt><dd id="energy">{state["energy"]["total_mah"]:.6f} mAh</dd>
<dt>average</dt><dd id="average">{state["energy"]["average_ma"] * 1000:.1f} µA</dd>
<dt>by state</dt><dd id="energy-states">–</dd>
<dt>battery</dt><dd id="battery-life">–</dd>
</dl>
<svg id="timeline" role="img" aria-label="power states over module time"
 viewBox="0 0 600 60" preserveAspectRatio="none"></svg>
<p id="timeline-legend" class="legend"></p>
</section>
<section id="link" class="card">
<h2>Link</h2>
<dl>
<dt>profile</dt><dd id="link-profile">{_e(link.get("profile", "none (a host network)"))}</dd>
<dt>in service</dt><dd id="link-service">{_e(link.get("in_service", "–"))}</dd>
<dt>signal</dt><dd id="link-signal">–</dd>
<dt>round trip</dt><dd id="link-rtt">–</dd>
<dt>rate up</dt><dd id="link-up">–</dd>
<dt>rate down</dt><dd id="link-down">–</dd>
</dl>
</section>
<section id="faults" class="card">
<h2>Faults</h2>
<div class="buttons">
{buttons}
</div>
<div class="tools">
<input id="urc-text" type="text" placeholder='+QIURC: "pdpdeact",1' aria-label="URC text">
<button type="button" id="urc-send">Say URC</button>
</div>
<p id="fault-result" class="muted" role="status"></p>
</section>
<section id="sockets" class="card wide">
<h2>Sockets</h2>
<table>
<thead><tr><th>id</th><th>type</th><th>state</th><th>remote</th><th>local port</th>
<th>sent</th><th>received</th><th>buffered nodes</th><th>mode</th><th></th></tr></thead>
<tbody id="socket-rows">
{rows}
</tbody>
</table>
</section>
<section id="trace" class="card wide">
<h2>AT trace</h2>
<div class="tools">
<input id="trace-search" type="search" placeholder="search the trace" aria-label="search">
<button type="button" id="trace-pause">Pause</button>
<button type="button" id="trace-clear">Clear</button>
<span class="legend"><span class="to_module">host → module</span>
<span class="to_host">module → host</span> <span class="urc">URC</span>
<span class="data">data</span></span>
</div>
<ol id="trace-lines" aria-live="off"></ol>
</section>
</main>"""
    return _page(f"bc66sim: {state['model']} module {index}", body, api=api,
                 battery_mah=battery_mah, token=token)  # fmt: skip


def _socket_row(sock: dict[str, Any]) -> str:
    cells = (sock["id"], sock["type"], sock["state"], sock["remote"], sock["local_port"],
             sock["sent"], sock["received"], sock["buffered_nodes"],
             sock["access_mode"])  # fmt: skip
    return "<tr>" + "".join(f"<td>{_e(cell)}</td>" for cell in cells) + "<td></td></tr>"


def fleet_page(rows: list[dict[str, Any]], *, battery_mah: float, token: str) -> str:
    """The table of a fleet's modules (``GET /modules``' rows), each row a link to its page."""
    table = "\n".join(_fleet_row(row["index"], row) for row in rows)
    body = f"""<header>
<h1>bc66sim fleet <span class="muted">{len(rows)} modules</span></h1>
<p class="muted"><span id="feed-state">live</span></p>
</header>
<main>
<section class="card wide">
<input id="fleet-search" type="search" placeholder="filter modules" aria-label="filter">
<table id="fleet">
<thead><tr><th>#</th><th>where</th><th>model</th><th>power</th><th>attached</th>
<th>sockets</th><th>to module</th><th>to host</th><th>errors</th><th>energy (mAh)</th></tr></thead>
<tbody id="fleet-rows">
{table}
</tbody>
</table>
</section>
</main>"""
    return _page("bc66sim fleet", body, api="", battery_mah=battery_mah, token=token)


def _fleet_row(index: int, row: dict[str, Any]) -> str:
    cells = (row["place"], row["model"], row["power"], "yes" if row["attached"] else "no",
             row["sockets"], row["uart_bytes"].get("to_module", 0),
             row["uart_bytes"].get("to_host", 0), row["errors"], f"{row['mah']:.6f}")  # fmt: skip
    return (f'<tr data-index="{index}"><td><a href="/dashboard/{index}">{index}</a></td>'
            + "".join(f"<td>{_e(cell)}</td>" for cell in cells) + "</tr>")  # fmt: skip


def html_response(page: str) -> web.Response:
    return web.Response(text=page, content_type="text/html", headers=SECURITY_HEADERS)


def static_response(name: str) -> web.Response:
    """One of the dashboard's own files; 404 for any other name."""
    if name not in STATIC:
        return web.json_response({"error": f"no {name!r} here"}, status=404)
    text = resources.files("bc66sim.control").joinpath("static", name).read_text("utf-8")
    return web.Response(text=text, content_type=STATIC[name], headers=SECURITY_HEADERS)
