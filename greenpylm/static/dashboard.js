// The greenpylm dashboard: reads /api/cluster every second and draws it.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const EVERY_MS = 1000;

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text === undefined || text === null ? "–" : String(text);
  if (cls) td.className = cls;
  row.appendChild(td);
}

function latency(server) {
  return server.worker_round_trip && server.worker_round_trip.count ? server.worker_round_trip
       : server.step && server.step.count ? server.step : {};
}

function drawTables(cluster) {
  const servers = document.querySelector("#servers tbody");
  const workers = document.querySelector("#workers tbody");
  servers.replaceChildren();
  workers.replaceChildren();
  for (const s of cluster.servers) {
    const row = document.createElement("tr");
    row.dataset.server = s.name;
    cell(row, s.name, "name");
    cell(row, s.kind);
    cell(row, s.up ? "up" : "down: " + (s.problem || "not read yet"), s.up ? "state" : "state down");
    cell(row, s.messages_in_per_s, "in-rate");
    cell(row, s.messages_out_per_s, "out-rate");
    cell(row, s.in_flight, "in-flight");
    cell(row, s.waiting, "waiting");
    cell(row, s.errors, "errors");
    cell(row, s.clients, "clients");
    const l = latency(s);
    cell(row, l.p50_ms === undefined ? undefined : l.p50_ms + " ms", "p50");
    cell(row, l.p99_ms === undefined ? undefined : l.p99_ms + " ms", "p99");
    servers.appendChild(row);
    for (const w of s.workers || []) {
      const wrow = document.createElement("tr");
      wrow.dataset.worker = w.name;
      cell(wrow, s.name);
      cell(wrow, w.name, "name");
      cell(wrow, w.capacity, "capacity");
      cell(wrow, w.holding, "holding");
      cell(wrow, w.done, "done");
      cell(wrow, w.done_per_s, "done-rate");
      cell(wrow, w.over_time_limit, "over-time");
      cell(wrow, w.seen_s_ago + " s ago", "seen");
      workers.appendChild(wrow);
    }
  }
}

function node(svg, x, y, label, cls) {
  const g = document.createElementNS(SVG, "g");
  g.setAttribute("class", cls);
  const rect = document.createElementNS(SVG, "rect");
  const width = Math.max(90, 8 * label.length + 20);
  rect.setAttribute("x", x - width / 2); rect.setAttribute("y", y - 15);
  rect.setAttribute("width", width); rect.setAttribute("height", 30); rect.setAttribute("rx", 6);
  const text = document.createElementNS(SVG, "text");
  text.setAttribute("x", x); text.setAttribute("y", y + 4);
  text.setAttribute("text-anchor", "middle");
  text.textContent = label;
  g.append(rect, text);
  svg.appendChild(g);
}

function line(svg, a, b) {
  const l = document.createElementNS(SVG, "line");
  l.setAttribute("x1", a.x); l.setAttribute("y1", a.y + 15);
  l.setAttribute("x2", b.x); l.setAttribute("y2", b.y - 15);
  svg.appendChild(l);
}

function drawTopology(cluster) {
  const svg = document.getElementById("topology");
  svg.replaceChildren();
  const defs = document.createElementNS(SVG, "defs");
  defs.innerHTML = '<marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" ' +
    'markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0L10,5L0,10z" fill="#6b7d70"/></marker>';
  svg.appendChild(defs);
  const width = svg.clientWidth || 900;
  const names = cluster.servers.map(s => s.name);
  for (const link of cluster.links) if (!names.includes(link.from)) names.push(link.from);
  const at = {};
  names.forEach((name, i) => { at[name] = {x: (i + 0.5) * width / names.length, y: 40}; });
  for (const link of cluster.links) line(svg, at[link.from], at[link.to]);
  for (const s of cluster.servers) {
    const workers = s.workers || [];
    workers.forEach((w, i) => {
      const spread = Math.min(width / names.length, 130 * workers.length);
      const x = at[s.name].x - spread / 2 + (i + 0.5) * spread / workers.length;
      const y = 150 + (i % 2) * 50;
      line(svg, at[s.name], {x, y});
      node(svg, x, y, w.name, "worker");
    });
  }
  for (const name of names) {
    const s = cluster.servers.find(s => s.name === name);
    const label = s ? `${name} (${s.kind || "?"})` : name;
    node(svg, at[name].x, at[name].y, label, !s ? "external" : s.up ? "server" : "server down");
  }
}

async function refresh() {
  try {
    const cluster = await (await fetch("/api/cluster", {cache: "no-store"})).json();
    drawTables(cluster);
    drawTopology(cluster);
    const down = cluster.servers.filter(s => !s.up).map(s => s.name);
    const health = document.getElementById("health");
    health.textContent = down.length ? "down: " + down.join(", ") : "all servers up";
    health.className = "health " + (down.length ? "bad" : "ok");
    document.getElementById("updated").textContent = "read " + new Date().toLocaleTimeString();
  } catch (error) {
    document.getElementById("health").textContent = "dashboard unreachable: " + error;
  }
}

refresh();
setInterval(refresh, EVERY_MS);
