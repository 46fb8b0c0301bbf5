// bc66sim's live dashboard (src/bc66sim/control/dashboard.py renders the pages).
//
// Everything that came from the host, the network or the module is written with
// textContent, never as markup: a host that types <script> sees its text.
"use strict";

(function () {
  const MAX_LINES = 5000; // trace lines kept in the page (and held while paused)
  const POLL_MS = 1000;
  const STATE_COLOURS = {
    connected: "#d9534f", idle: "#f0ad4e", edrx: "#9b59b6", psm: "#5bc0de",
    deep_sleep: "#337ab7", off: "#999",
  };

  // The page carries the token (the server put it there for whoever had it); it goes
  // in each request's header.  Out of the address bar and its history, too.
  const token = document.body.dataset.token || "";
  if (new URLSearchParams(location.search).has("token")) {
    history.replaceState(null, "", location.pathname);
  }
  const api = document.body.dataset.api || "";
  const batteryMah = Number(document.body.dataset.batteryMah || "0");

  function element(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  function setText(id, text) {
    const node = document.getElementById(id);
    if (node) node.textContent = text;
  }

  async function request(method, path, body) {
    const response = await fetch(path, {
      method,
      headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
      body: body === undefined ? undefined : body,
      cache: "no-store",
    });
    const answer = await response.json();
    if (!response.ok) throw new Error(answer.error || response.statusText);
    return answer;
  }

  // Bytes (one code point per byte, as the feed sends them) as text a person reads.
  function readable(text) {
    let out = "";
    for (const ch of text) {
      const code = ch.charCodeAt(0);
      if (code === 0x1a) out += "<ctrl-z>";
      else if (code === 0x1b) out += "<esc>";
      else if (code === 0x0d) out += "";
      else if (code >= 0x20 && code < 0x7f) out += ch;
      else out += "\\x" + code.toString(16).padStart(2, "0");
    }
    return out;
  }

  // -- the fleet page -------------------------------------------------------------------

  function fleetPage() {
    const rows = document.getElementById("fleet-rows");
    const search = document.getElementById("fleet-search");
    function filter() {
      const wanted = search.value.toLowerCase();
      for (const row of rows.rows) {
        row.hidden = wanted !== "" && !row.textContent.toLowerCase().includes(wanted);
      }
    }
    async function poll() {
      try {
        const modules = await request("GET", "/modules");
        rows.replaceChildren(...modules.map((m) => {
          const row = element("tr");
          row.dataset.index = m.index;
          const first = element("td");
          const link = element("a", String(m.index));
          link.href = "/dashboard/" + m.index;
          first.append(link);
          row.append(first);
          for (const cell of [m.place, m.model, m.power, m.attached ? "yes" : "no", m.sockets,
            m.uart_bytes.to_module || 0, m.uart_bytes.to_host || 0, m.errors,
            m.mah.toFixed(6)]) {
            row.append(element("td", String(cell)));
          }
          return row;
        }));
        filter();
        setText("feed-state", "live");
      } catch (error) {
        setText("feed-state", "no answer: " + error.message);
      }
    }
    search.addEventListener("input", filter);
    setInterval(poll, POLL_MS);
  }

  // -- a module's page --------------------------------------------------------------------

  function modulePage() {
    const list = document.getElementById("trace-lines");
    const search = document.getElementById("trace-search");
    const pauseButton = document.getElementById("trace-pause");
    let paused = false;
    let held = []; // lines that came while paused
    const partial = { to_module: "", to_host: "" };
    const pendingUrcs = [];
    let dataLine = null; // the host's payload after a ">" prompt, shown as one line
    let power = []; // [module time, state] from the feed's power events
    let lastLink = null;
    let lastStatus = null;

    function matches(node) {
      const wanted = search.value.toLowerCase();
      return wanted === "" || node.textContent.toLowerCase().includes(wanted);
    }

    function show(node) {
      if (paused) {
        held.push(node);
        if (held.length > MAX_LINES) held.shift();
        pauseButton.textContent = "Resume (" + held.length + " new)";
        return;
      }
      const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
      node.hidden = !matches(node);
      list.append(node);
      while (list.childElementCount > MAX_LINES) list.firstElementChild.remove();
      if (atBottom) list.scrollTop = list.scrollHeight;
    }

    function line(direction, text, extra) {
      const item = element("li", undefined, direction + (extra ? " " + extra : ""));
      const arrow = { to_module: "→ ", to_host: "← " }[direction] || "• ";
      item.append(element("span", arrow, "arrow"));
      item.append(element("span", text, "text"));
      return item;
    }

    function uart(direction, data) {
      if (direction === "to_host") dataLine = null;
      if (direction === "to_module" && dataLine !== null) {
        const text = dataLine.querySelector(".text");
        text.textContent += readable(data);
        dataLine.hidden = !matches(dataLine);
        if (data.includes("\x1a") || data.includes("\x1b")) dataLine = null;
        return;
      }
      let text = partial[direction] + data;
      // The host ends a command with CR; the module ends its lines with CR LF.
      const separator = direction === "to_module" ? /[\r\n]/ : /\n/;
      let end;
      while ((end = text.search(separator)) >= 0) {
        const whole = text.slice(0, end).replace(/\r$/, "");
        text = text.slice(end + 1);
        if (whole === "") continue;
        let mark = "";
        const urc = pendingUrcs.indexOf(whole);
        if (direction === "to_host" && urc >= 0) {
          pendingUrcs.splice(urc, 1);
          mark = "urc";
        }
        show(line(direction, readable(whole), mark));
      }
      if (direction === "to_host" && text === "> ") {
        text = "";
        show(line(direction, ">", "prompt"));
        dataLine = line("to_module", "", "data");
        show(dataLine);
      }
      partial[direction] = text.length > 4096 ? "" : text;
    }

    function feed() {
      const scheme = location.protocol === "https:" ? "wss://" : "ws://";
      const socket = new WebSocket(
        scheme + location.host + api + "/events?token=" + encodeURIComponent(token));
      socket.onopen = () => setText("feed-state", "live");
      socket.onclose = (event) => {
        setText("feed-state", "feed closed (" + (event.reason || event.code) + "); retrying");
        setTimeout(feed, 2000);
      };
      socket.onmessage = (message) => {
        const event = JSON.parse(message.data);
        if (event.type === "uart") uart(event.direction, event.data);
        else if (event.type === "urc") {
          pendingUrcs.push(event.text);
          if (pendingUrcs.length > 100) pendingUrcs.shift();
        } else if (event.type === "power") {
          power.push([event.mt, event.meter || event.to]);
          if (power.length > 1000) power.shift();
          if (lastStatus !== null) {
            timeline(Math.max(lastStatus.clock, event.mt), event.meter || event.to);
          }
        } else if (event.type === "fault") {
          show(line("fault", "fault: " + event.name + " " + JSON.stringify(event.body)));
        } else if (event.type === "hello") {
          list.replaceChildren();
          power = [];
          partial.to_module = partial.to_host = "";
        }
      };
    }

    function timeline(now, current) {
      const svg = document.getElementById("timeline");
      const ns = "http://www.w3.org/2000/svg";
      const start = power.length ? Math.min(power[0][0], now) : now;
      const span = Math.max(now - start, 1);
      const segments = power.length ? power.slice() : [[now, current]];
      svg.replaceChildren();
      segments.forEach(([from, state], index) => {
        const to = index + 1 < segments.length ? segments[index + 1][0] : now;
        const rect = document.createElementNS(ns, "rect");
        rect.setAttribute("x", String(((from - start) / span) * 600));
        rect.setAttribute("width", String(Math.max(((to - from) / span) * 600, 0.5)));
        rect.setAttribute("y", "0");
        rect.setAttribute("height", "60");
        rect.setAttribute("fill", STATE_COLOURS[state] || "#ccc");
        const title = document.createElementNS(ns, "title");
        title.textContent = state + ": " + from.toFixed(1) + "–" + to.toFixed(1) + " s";
        rect.append(title);
        svg.append(rect);
      });
      const legend = document.getElementById("timeline-legend");
      legend.replaceChildren(element("span", "module time " + start.toFixed(0) + "–" +
        now.toFixed(0) + " s: "));
      for (const [state, colour] of Object.entries(STATE_COLOURS)) {
        const key = element("span", state, "key");
        key.style.borderColor = colour;
        legend.append(key);
      }
    }

    function rate(bytes, seconds) {
      return seconds > 0 ? ((bytes * 8) / seconds / 1000).toFixed(1) + " kbit/s" : "–";
    }

    function render(status) {
      setText("power-state", status.power.state);
      setText("attached", status.radio.attached ? "yes" : "no");
      setText("ip", status.radio.ip || "–");
      const energy = status.energy;
      setText("energy", energy.total_mah.toFixed(6) + " mAh");
      setText("average", (energy.average_ma * 1000).toFixed(1) + " µA");
      setText("energy-states", Object.entries(energy.mah)
        .filter(([state]) => energy.seconds[state] > 0)
        .map(([state, mah]) => state + " " + energy.seconds[state].toFixed(0) + " s " +
          mah.toFixed(4) + " mAh").join(" · "));
      if (energy.battery_mah) {
        setText("battery-life", energy.battery_days === null ? "forever" :
          energy.battery_mah + " mAh lasts " + energy.battery_days.toFixed(0) + " days (" +
          (energy.battery_days / 365).toFixed(1) + " years)");
      }
      const link = status.link;
      if (link) {
        setText("link-profile", link.profile + " (" + link.delay + " s each way, " +
          link.uplink_bps + "/" + link.downlink_bps + " bit/s)");
        setText("link-service", link.in_service ? "yes" :
          "no: back in " + link.coverage_back_in.toFixed(0) + " s");
        setText("link-signal", "RSRP " + link.signal.rsrp + " dBm, SINR " + link.signal.sinr +
          " dB, CE " + link.signal.ecl);
        setText("link-rtt", link.rtt_ms === null ? "–" : link.rtt_ms + " ms");
        if (lastLink !== null) {
          const seconds = status.clock - lastLink.clock;
          setText("link-up", rate(link.bytes_up - lastLink.link.bytes_up, seconds));
          setText("link-down", rate(link.bytes_down - lastLink.link.bytes_down, seconds));
        }
        lastLink = status;
      }
      const rows = status.sockets.map((sock) => {
        const row = element("tr");
        for (const cell of [sock.id, sock.type, sock.state, sock.remote, sock.local_port,
          sock.sent, sock.received, sock.buffered_nodes, sock.access_mode]) {
          row.append(element("td", String(cell)));
        }
        const last = element("td");
        if (sock.type === "TCP" && sock.state === "connected") {
          const reset = element("button", "Peer reset", "fault");
          reset.type = "button";
          reset.title = "the peer resets the connection (a RST)";
          reset.addEventListener("click", () => fault("reset-peer", JSON.stringify({ id: sock.id }),
            "Peer reset"));
          last.append(reset);
        }
        row.append(last);
        return row;
      });
      document.getElementById("socket-rows").replaceChildren(...rows);
      lastStatus = status;
      timeline(status.clock, status.power.state);
    }

    async function poll() {
      try {
        render(await request("GET", api + "/status"));
      } catch (error) {
        setText("feed-state", "no answer: " + error.message);
      }
    }

    async function fault(name, body, label) {
      try {
        const answer = await request("POST", api + "/faults/" + name, body);
        setText("fault-result", "done: " + JSON.stringify(answer));
      } catch (error) {
        setText("fault-result", label + ": " + error.message);
      }
      poll();
    }

    for (const button of document.querySelectorAll("button.fault[data-fault]")) {
      button.addEventListener("click", () =>
        fault(button.dataset.fault, button.dataset.body, button.textContent));
    }
    document.getElementById("urc-send").addEventListener("click", () => {
      const text = document.getElementById("urc-text").value;
      fault("urc", JSON.stringify({ text }), "Say URC");
    });
    search.addEventListener("input", () => {
      for (const node of list.children) node.hidden = !matches(node);
    });
    pauseButton.addEventListener("click", () => {
      paused = !paused;
      pauseButton.textContent = paused ? "Resume" : "Pause";
      if (!paused) {
        const waiting = held;
        held = [];
        waiting.forEach(show);
      }
    });
    document.getElementById("trace-clear").addEventListener("click", () => {
      list.replaceChildren();
      held = [];
    });
    feed();
    poll();
    setInterval(poll, POLL_MS);
  }

  if (document.getElementById("fleet")) fleetPage();
  else modulePage();
})();
