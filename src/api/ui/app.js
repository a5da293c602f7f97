// slotd dashboard. Everything it shows comes from slotd's HTTP API:
// GET /v1/status/stream (status every second, faults/job/lab on change),
// GET /v1/events/stream (the timeline), and the same POST routes slotctl uses.
"use strict";

const SLOTS = 16384;
const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"];
// Event kinds that are supervision detail rather than the cluster's story.
const NOISE = new Set(["slotd", "started", "running", "adopted"]);

const $ = (id) => document.getElementById(id);

/** Builds an element: el("div", {class: "x", text: "y"}, child...). */
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "text") e.textContent = v;
    else if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(e.dataset, v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) e.append(c);
  return e;
}

const state = {
  status: null,
  lastRole: {},        // node name -> {role, master_port, slots} while it was up
  lastOwner: new Int16Array(SLOTS).fill(-1), // slot -> node index, last live owner seen
  events: [],          // newest last
  seenSeq: 0,
  failovers: [],
  faults: null,
  job: null,
  lab: null,
  scenarios: [],
  logNode: null,
  logOffset: null,
  hitSlot: null,
};

// ---------- API ----------

class ApiError extends Error {}

async function api(method, path, body) {
  const opts = { method, headers: {} };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, opts);
  } catch (e) {
    throw new ApiError("slotd does not answer (" + e.message + ")");
  }
  if (resp.status === 401) {
    askToken();
    throw new ApiError("slotd wants its API token");
  }
  const text = await resp.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (_) { json = null; }
  if (!resp.ok) {
    let msg = (json && json.error) || text || resp.statusText;
    if (json && Array.isArray(json.results)) {
      const bad = json.results.filter((r) => !r.ok).map((r) => r.node + ": " + r.error);
      if (bad.length) msg += " (" + bad.join("; ") + ")";
    }
    throw new ApiError(msg);
  }
  return json;
}

function toast(msg, isError) {
  const t = el("div", { class: "toast" + (isError ? " error" : ""), text: msg });
  $("toasts").append(t);
  setTimeout(() => t.remove(), isError ? 9000 : 4000);
}

/** Runs an action, shows its outcome; returns the reply or null. */
async function act(label, method, path, body) {
  try {
    const r = await api(method, path, body);
    toast(label + ": done");
    return r;
  } catch (e) {
    toast(label + ": " + e.message, true);
    return null;
  }
}

/** Asks once before something destructive; resolves true to go on. */
function confirmAction(title, text, okLabel) {
  const d = $("confirm");
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = okLabel || "Do it";
  return new Promise((resolve) => {
    const done = () => { d.removeEventListener("close", done); resolve(d.returnValue === "ok"); };
    d.addEventListener("close", done);
    d.returnValue = "cancel";
    d.showModal();
    $("confirm-cancel").focus();
  });
}

// ---------- token ----------

/** Trades the token for slotd's HttpOnly cookie (scripts never keep it). */
async function login(t) {
  try {
    const r = await fetch("/v1/session", { method: "POST", headers: { Authorization: "Bearer " + t } });
    if (r.status === 401) { toast("that token is not this slotd's", true); askToken(); return; }
  } catch (_) { /* slotd away: the connection pill says so */ }
  connect();
}

let askingToken = false;
function askToken() {
  if (askingToken) return;
  askingToken = true;
  const d = $("token-dialog");
  d.addEventListener("close", () => {
    askingToken = false;
    const t = $("token-input").value.trim();
    $("token-input").value = "";
    if (t) login(t);
  }, { once: true });
  d.showModal();
}

/** A link from `slotctl dashboard` carries the token in its fragment: trade it, then forget it. */
function takeTokenFromUrl() {
  const m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
  if (!m) return null;
  history.replaceState(null, "", location.pathname + location.search);
  return decodeURIComponent(m[1]);
}

// ---------- formatting ----------

function fmtBytes(n) {
  if (n === null || n === undefined) return "–";
  const u = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : String(n)) + " " + u[i];
}
function fmtUptime(s) {
  if (s === null || s === undefined) return "–";
  if (s < 60) return s + "s";
  if (s < 3600) return Math.floor(s / 60) + "m" + String(s % 60).padStart(2, "0") + "s";
  return Math.floor(s / 3600) + "h" + String(Math.floor(s % 3600 / 60)).padStart(2, "0") + "m";
}
function fmtTime(ms) {
  const d = new Date(ms);
  return d.toLocaleTimeString([], { hour12: false }) + "." + String(d.getMilliseconds()).padStart(3, "0");
}
const num = (v) => (v === null || v === undefined ? "–" : String(v));

function colorOf(idx) { return idx < 0 ? "#c9ced6" : PALETTE[idx % PALETTE.length]; }

// ---------- slots ----------

/** Slot ranges and open-slot markers out of a node's CLUSTER NODES fields. */
function parseSlots(fields) {
  const ranges = [], open = [];
  for (const f of fields || []) {
    const m = /^\[(\d+)-([<>])-([0-9a-f]+)\]$/.exec(f);
    if (m) { open.push({ slot: +m[1], dir: m[2] === ">" ? "migrating" : "importing", peer: m[3] }); continue; }
    const r = /^(\d+)(?:-(\d+))?$/.exec(f);
    if (r) ranges.push([+r[1], r[2] === undefined ? +r[1] : +r[2]]);
  }
  return { ranges, open };
}

function slotOwners(nodes) {
  const owner = new Int16Array(SLOTS).fill(-1);
  const open = [];
  nodes.forEach((n, i) => {
    if (n.state !== "RUNNING" || n.role !== "master") return;
    const p = parseSlots(n.slots);
    for (const [a, b] of p.ranges) for (let s = a; s <= b && s < SLOTS; s++) owner[s] = i;
    for (const o of p.open) open.push(Object.assign({ node: n.name }, o));
  });
  return { owner, open };
}

function renderSlots(st) {
  const { owner, open } = slotOwners(st.nodes);
  const segs = [];
  let covered = 0;
  for (let s = 0; s < SLOTS;) {
    let o = owner[s], stale = false;
    if (o >= 0) { state.lastOwner[s] = o; covered++; } else if (state.lastOwner[s] >= 0) { o = state.lastOwner[s]; stale = true; }
    let e = s;
    while (e + 1 < SLOTS) {
      const live = owner[e + 1];
      const o2 = live >= 0 ? live : state.lastOwner[e + 1];
      const stale2 = live < 0 && o2 >= 0;
      if (o2 !== o || stale2 !== stale) break;
      e++;
      if (live >= 0) { state.lastOwner[e] = live; covered++; }
    }
    segs.push({ first: s, last: e, owner: o, stale });
    s = e + 1;
  }
  const strip = $("strip");
  strip.replaceChildren();
  for (const g of segs) {
    const n = g.owner >= 0 ? st.nodes[g.owner] : null;
    const count = g.last - g.first + 1;
    const label = n ? n.name : "unassigned";
    const title = (g.first === g.last ? "slot " + g.first : "slots " + g.first + "-" + g.last) + " (" + count + "): " +
      (n ? (g.stale ? label + " is down, no live owner yet" : label) : "no owner");
    const seg = el("div", {
      class: "seg" + (g.stale ? " stale" : ""), title,
      dataset: { owner: g.stale ? "" : (n ? n.name : ""), lastOwner: n ? n.name : "", first: g.first, last: g.last },
    });
    seg.style.flexGrow = String(count);
    seg.style.flexBasis = "0";
    if (n) seg.style.backgroundColor = colorOf(g.owner);
    if (count > 700) seg.textContent = (g.stale ? "✕ " : "") + label + " · " + g.first + "-" + g.last;
    if (state.hitSlot !== null && state.hitSlot >= g.first && state.hitSlot <= g.last) seg.classList.add("hit");
    strip.append(seg);
  }
  for (const o of open) {
    const m = el("div", { class: "marker " + o.dir, title: "slot " + o.slot + " " + o.dir + " on " + o.node });
    m.style.left = (o.slot / SLOTS * 100) + "%";
    strip.append(m);
  }
  const owners = new Set(Array.from(owner).filter((o) => o >= 0));
  strip.setAttribute("aria-label", "slot map: " + segs.map((g) => (g.owner >= 0 ? st.nodes[g.owner].name : "none") + " " + g.first + "-" + g.last).join(", "));
  strip.dataset.owners = String(owners.size);
  $("slots-summary").textContent = covered + " of 16384 slots served by " + owners.size + " master" + (owners.size === 1 ? "" : "s");
  const legend = $("legend");
  legend.replaceChildren(...Array.from(owners).sort((a, b) => a - b).map((i) => {
    const sw = el("i", { class: "swatch" });
    sw.style.background = colorOf(i);
    const count = owner.filter((o) => o === i).length;
    return el("span", {}, sw, st.nodes[i].name + " (" + count + ")");
  }));
  $("open-slots").textContent = open.length ? "open slots: " + open.map((o) => o.slot + " " + o.dir + " on " + o.node).join(", ") : "";
}

// CRC16/XMODEM as Redis Cluster uses it, with {hash tags}.
function keySlot(key) {
  const bytes = new TextEncoder().encode(key);
  let s = bytes.indexOf(123), e = -1;
  if (s >= 0) { e = bytes.indexOf(125, s + 1); }
  const part = s >= 0 && e > s + 1 ? bytes.subarray(s + 1, e) : bytes;
  let crc = 0;
  for (const b of part) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % SLOTS;
}

function updateKeySlot() {
  const key = $("keyslot-key").value;
  if (!key) { state.hitSlot = null; $("keyslot-out").textContent = ""; }
  else {
    const slot = keySlot(key);
    state.hitSlot = slot;
    let owner = "no owner";
    if (state.status) {
      const { owner: o } = slotOwners(state.status.nodes);
      if (o[slot] >= 0) owner = state.status.nodes[o[slot]].name;
    }
    $("keyslot-out").textContent = "slot " + slot + " → " + owner;
  }
  if (state.status) renderSlots(state.status);
}

// ---------- topology ----------

function nodeActions(n) {
  const up = n.state === "RUNNING";
  const b = (label, action, enabled, danger) => el("button", {
    type: "button", class: "small", text: label, disabled: !enabled,
    "aria-label": label + " " + n.name, dataset: { action, node: n.name },
    onclick: () => nodeAction(n, action, danger),
  });
  return el("div", { class: "node-actions" },
    b("Start", "start", !up && n.state !== "STARTING" && n.state !== "PAUSED"),
    b("Stop", "stop", up || n.state === "PAUSED", true),
    b("Restart", "restart", up, true),
    b("Kill -9", "kill", up || n.state === "PAUSED", true),
    n.state === "PAUSED" ? b("Resume", "resume", true) : b("Pause", "pause", up, true));
}

const ACTION_TEXT = {
  stop: "stops it with SIGTERM; slotd will not restart it until you start it",
  restart: "stops it and starts it again",
  kill: "sends SIGKILL, like kill -9: a master's replica should take over after cluster-node-timeout",
  pause: "freezes it with SIGSTOP: its sockets stay open but it answers nothing, so the others flag it PFAIL then FAIL",
};

async function nodeAction(n, action, danger) {
  if (danger) {
    const ok = await confirmAction(action[0].toUpperCase() + action.slice(1) + " " + n.name + "?",
      n.name + " (" + (n.role === "slave" ? "replica" : n.role || "node") + ", port " + n.port + "): " + ACTION_TEXT[action] + ".",
      action === "kill" ? "Kill it" : action[0].toUpperCase() + action.slice(1));
    if (!ok) return;
  }
  await act(action + " " + n.name, "POST", "/v1/nodes/" + encodeURIComponent(n.name) + "/" + action);
}

function nodeFacts(n, isReplica) {
  const f = (label, value, cls) => el("span", { class: cls }, label + " ", el("b", { text: value }));
  const facts = [
    f("pid", num(n.pid)), f("up", fmtUptime(n.uptime_s)), f("RSS", fmtBytes(n.rss_bytes)),
    f("CPU", n.cpu_percent === null || n.cpu_percent === undefined ? "–" : n.cpu_percent.toFixed(1) + "%"),
    f("ops/s", num(n.ops_per_sec)), f("keys", num(n.keys)), f("clients", num(n.connected_clients)),
    f("offset", num(n.repl_offset)),
  ];
  if (isReplica) {
    const lagBad = (n.lag_bytes || 0) > 1024 * 1024 || (n.lag_s !== null && n.lag_s !== undefined && (n.lag_s < 0 || n.lag_s > 10));
    facts.push(f("link", n.master_link || "–", n.master_link && n.master_link !== "up" ? "lag-bad" : undefined));
    facts.push(f("lag", n.lag_bytes === null || n.lag_bytes === undefined ? "–" : fmtBytes(n.lag_bytes), lagBad ? "lag-bad" : undefined));
    facts.push(f("last io", n.lag_s === null || n.lag_s === undefined ? "–" : n.lag_s + "s", lagBad ? "lag-bad" : undefined));
  }
  if (n.restarts) facts.push(f("restarts", String(n.restarts)));
  return el("div", { class: "facts" }, facts);
}

function nodeBox(n, isReplica) {
  const up = n.state === "RUNNING";
  const last = state.lastRole[n.name];
  const role = up ? (n.role === "slave" ? "replica" : n.role || "no role") : (last ? "was " + (last.role === "slave" ? "replica" : last.role) : "");
  const why = !up && n.last_exit ? (n.last_exit.signal ? "signal " + n.last_exit.signal : "exit " + n.last_exit.code) : "";
  return el("div", { class: "node" + (isReplica ? "" : " is-master"), dataset: { node: n.name, state: n.state, role: n.role || "", up: String(up) } },
    el("div", { class: "node-head" },
      el("span", { class: "node-name", text: n.name }),
      n.host_name ? el("span", { class: "host-name", title: "host " + n.host_name + " (" + n.host + ")", text: "@" + n.host_name }) : null,
      el("span", { class: "state", dataset: { state: n.state }, text: n.state }),
      el("span", { class: "role", text: role }),
      why ? el("span", { class: "muted", text: why }) : null,
      n.message && !up ? el("span", { class: "muted", text: n.message }) : null),
    nodeFacts(n, isReplica),
    nodeActions(n));
}

function renderTopology(st) {
  const nodes = st.nodes;
  for (const n of nodes) {
    if (n.state === "RUNNING" && n.role) state.lastRole[n.name] = { role: n.role, master_port: n.master_port, slots: n.slots };
  }
  const idx = new Map(nodes.map((n, i) => [n.name, i]));
  const { owner } = slotOwners(nodes);
  // Whether another live master now serves a slot this (down) node last served.
  const takenOver = (n) => {
    const last = state.lastRole[n.name], i = idx.get(n.name);
    if (!last) return false;
    return parseSlots(last.slots).ranges.some(([a, b]) => {
      for (let s = a; s <= b && s < SLOTS; s++) if (owner[s] >= 0 && owner[s] !== i) return true;
      return false;
    });
  };
  // A master keeps its card while it is up, and while it is down until another master takes its slots.
  const masters = nodes.filter((n) => {
    if (n.state === "RUNNING") return n.role === "master";
    const last = state.lastRole[n.name];
    return !!last && last.role === "master" && !takenOver(n);
  });
  // Cards in slot order, like the strip (a down master by the slots it last served).
  const firstSlot = (m) => {
    const fields = m.state === "RUNNING" ? m.slots : (state.lastRole[m.name] || {}).slots;
    const r = parseSlots(fields).ranges;
    return r.length ? Math.min(...r.map((x) => x[0])) : SLOTS;
  };
  masters.sort((a, b) => firstSlot(a) - firstSlot(b) || a.port - b.port);
  const masterPorts = new Map(masters.map((m) => [m.port, m]));
  const placed = new Set(masters.map((m) => m.name));
  const cards = masters.map((m) => {
    const i = idx.get(m.name);
    const reps = nodes.filter((r) => {
      const mp = r.state === "RUNNING" ? (r.role === "slave" ? r.master_port : null) : (state.lastRole[r.name] && state.lastRole[r.name].role === "slave" ? state.lastRole[r.name].master_port : null);
      return mp === m.port && r.name !== m.name;
    });
    reps.forEach((r) => placed.add(r.name));
    const slots = Array.from(owner).filter((o) => o === i).length;
    const card = el("article", {
      class: "card" + (m.state !== "RUNNING" ? " master-down" : ""),
      dataset: { master: m.name }, "aria-label": "master " + m.name,
    },
      el("div", { class: "muted", text: slots + " slots" + (m.state !== "RUNNING" ? " (owner down)" : "") }),
      nodeBox(m, false),
      el("div", { class: "replicas" },
        reps.length ? reps.map((r) => nodeBox(r, true)) : el("div", { class: "replicas-empty", text: "no replica: if this master dies its slots go down" })));
    card.style.borderLeftColor = colorOf(i);
    return card;
  });
  const rest = nodes.filter((n) => !placed.has(n.name));
  if (rest.length) {
    cards.push(el("article", { class: "card", dataset: { master: "" }, "aria-label": "other nodes" },
      el("div", { class: "muted", text: "not serving slots (down, or replica of a master that is gone, or not in the cluster)" }),
      rest.map((r) => nodeBox(r, true))));
  }
  // Keep the focused button focused across redraws (keyboard users).
  const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset : null;
  const refocus = focused && focused.action ? [focused.node, focused.action] : null;
  $("masters").replaceChildren(...cards);
  if (refocus) {
    const b = document.querySelector('button[data-node="' + CSS.escape(refocus[0]) + '"][data-action="' + refocus[1] + '"]');
    if (b && !b.disabled) b.focus();
  }
  const running = nodes.filter((n) => n.state === "RUNNING").length;
  $("topo-summary").textContent = masterPorts.size + " masters, " + running + "/" + nodes.length + " nodes running";
  fillSelects(st);
}

function fillSelects(st) {
  const keep = (sel, names) => {
    const cur = sel.value;
    const same = sel.options.length === names.length && Array.from(sel.options).every((o, i) => o.value === names[i]);
    if (!same) {
      sel.replaceChildren(...names.map((nm) => el("option", { value: nm, text: nm })));
      if (names.includes(cur)) sel.value = cur;
    }
  };
  const all = st.nodes.map((n) => n.name);
  document.querySelectorAll(".node-select").forEach((s) => keep(s, all));
  const masters = st.nodes.filter((n) => n.state === "RUNNING" && n.role === "master").map((n) => n.name);
  document.querySelectorAll(".master-select").forEach((s) => keep(s, masters));
  // Moving slots to where they are is never meant: offer another master as the target.
  const from = $("rs-from"), to = $("rs-to");
  if (to.value === from.value && masters.length > 1) to.value = masters.find((m) => m !== from.value);
  if (!state.logNode && all.length) selectLogNode(all[0]);
}

function renderHeader(st) {
  const c = st.cluster;
  const pill = $("cluster-state");
  const s = c.state || "unknown";
  pill.dataset.state = s === "ok" ? "ok" : s === "fail" ? "fail" : s.startsWith("ok") ? "degraded" : "unknown";
  pill.textContent = "cluster: " + s;
  const wait = c.waiting_for && c.waiting_for.length ? " · waiting for " + c.waiting_for.join(", ") : "";
  $("readiness").textContent = c.nodes_running + "/" + c.nodes_total + " running" + (c.ready ? " · ready" : "") + (c.formation ? " · " + c.formation : "") + wait;
  $("engine").textContent = st.engine + " · slotd up " + fmtUptime(st.slotd_uptime_s);
}

/** Multi-host clusters: one pill per host (its slotd answering or not) and the host actions. */
function renderHosts(st) {
  const hosts = st.hosts || [];
  const box = $("hosts");
  box.hidden = hosts.length === 0;
  $("host-form").hidden = hosts.length === 0;
  if (!hosts.length) return;
  box.replaceChildren(...hosts.map((h) => el("span", {
    class: "pill", dataset: { host: h.name, up: String(h.reachable) },
    title: h.reachable ? "slotd at " + h.api + (h.local ? " (this one)" : "") : (h.error || "does not answer"),
    text: h.name + (h.reachable ? "" : " unreachable"),
  })));
  const sel = $("host-name");
  const names = hosts.map((h) => h.name);
  if (sel.options.length !== names.length || Array.from(sel.options).some((o, i) => o.value !== names[i])) {
    const cur = sel.value;
    sel.replaceChildren(...names.map((n) => el("option", { value: n, text: n })));
    if (names.includes(cur)) sel.value = cur;
  }
}

function onStatus(st) {
  state.status = st;
  renderHeader(st);
  renderHosts(st);
  renderTopology(st);
  renderSlots(st);
}

// ---------- faults, job, lab ----------

function renderFaults(f) {
  state.faults = f;
  const box = $("faults-active");
  if (!f || !f.active || !f.active.length) {
    box.textContent = f && f.note ? f.note : "none active";
    return;
  }
  box.replaceChildren(el("ul", {}, f.active.map((a) => el("li", {},
    a.description + (a.until_ms ? " (until " + fmtTime(a.until_ms) + ")" : "")))));
}

function renderJob(j) {
  state.job = j;
  const box = $("job");
  if (!j) { box.hidden = true; return; }
  box.hidden = false;
  const pct = j.slots_total ? Math.round(100 * j.slots_done / j.slots_total) : (j.state === "done" ? 100 : 0);
  $("job-title").textContent = j.kind + " " + j.summary + ": " + j.state;
  $("job-detail").textContent = j.slots_done + "/" + j.slots_total + " slots, " + j.keys_done + "/" + j.keys_total + " keys" +
    (j.current_slot !== null && j.current_slot !== undefined ? ", moving slot " + j.current_slot : "") + " · " + (j.elapsed_ms / 1000).toFixed(1) + " s" +
    (j.message ? " · " + j.message : "");
  $("job-bar").style.width = pct + "%";
  box.querySelector(".bar").setAttribute("aria-valuenow", String(pct));
  $("job-cancel").hidden = j.state !== "running";
}

function renderLab(run) {
  state.lab = run;
  const box = $("lab-run");
  if (!run) { box.hidden = true; return; }
  box.hidden = false;
  $("lab-run-title").textContent = run.scenario + " on " + run.engine;
  const pill = $("lab-run-state");
  pill.textContent = run.state;
  pill.dataset.run = run.state;
  const pre = $("lab-narrative");
  const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
  pre.textContent = run.state === "running" ? run.narrative.join("\n") : run.reports.join("\n");
  if (atEnd) pre.scrollTop = pre.scrollHeight;
  if (run.state !== "running") loadScenarios();
  document.querySelectorAll("button[data-scenario]").forEach((b) => { b.disabled = run.state === "running"; });
}

async function loadScenarios() {
  try { state.scenarios = await api("GET", "/v1/lab/scenarios"); } catch (e) { return; }
  const running = state.lab && state.lab.state === "running";
  $("scenarios").replaceChildren(...state.scenarios.map((s) => {
    const last = s.last;
    const badge = last ? el("span", { class: "pill", dataset: { run: last.passed ? "passed" : "failed" }, title: last.summary,
      text: (last.passed ? "PASS" : "FAIL") + " " + last.checks_passed + "/" + last.checks_total }) : el("span", { class: "muted", text: "not run" });
    return el("li", { dataset: { scenario: s.name } },
      el("strong", { text: s.name }), badge,
      el("button", { type: "button", class: "small", text: "Run", disabled: running, "aria-label": "Run scenario " + s.name,
        dataset: { scenario: s.name }, onclick: () => runScenario(s.name) }),
      el("span", { class: "desc", text: s.description }));
  }));
}

async function runScenario(name) {
  const r = await act("lab " + name, "POST", "/v1/lab/scenarios/" + encodeURIComponent(name) + "/run", { engine: "builtin" });
  if (r) renderLab(r);
}

async function loadCheckpoints() {
  let list;
  try { list = await api("GET", "/v1/lab/checkpoints"); } catch (e) { return; }
  $("checkpoints").replaceChildren(...list.checkpoints.map((c) => el("li", {},
    el("strong", { text: c.name }), el("span", { class: "muted", text: new Date(c.created_ms).toLocaleString() }),
    el("button", { type: "button", class: "small", text: "Restore", "aria-label": "Restore checkpoint " + c.name,
      onclick: async () => {
        if (await confirmAction("Restore " + c.name + "?", "Stops every node, puts the checkpoint's data back and starts them: writes since then are lost.", "Restore")) {
          await act("restore " + c.name, "POST", "/v1/lab/checkpoints/" + encodeURIComponent(c.name) + "/restore");
        }
      } }))));
}

// ---------- timeline ----------

function renderEvents() {
  const showNoise = $("tl-noise").checked;
  const list = state.events.filter((e) => showNoise || !NOISE.has(label(e.kind))).slice(-300).reverse();
  $("events").replaceChildren(...list.map((e) => el("li", { dataset: { kind: label(e.kind), seq: e.seq } },
    el("time", { datetime: new Date(e.ts_ms).toISOString(), text: fmtTime(e.ts_ms) }),
    el("span", { class: "kind", dataset: { kind: label(e.kind) }, text: label(e.kind) }),
    el("span", { class: "mono", text: (e.node || "") + (e.host ? "@" + e.host : "") }),
    el("span", { text: e.message }))));
  $("tl-count").textContent = state.events.length + " events";
}

// Across hosts the live stream is this slotd's own; every few seconds the
// whole timeline, merged from every host, replaces it (GET /v1/events).
let mergedBusy = false;
setInterval(async () => {
  if (!state.status || !(state.status.hosts || []).length || mergedBusy) return;
  mergedBusy = true;
  try {
    const r = await api("GET", "/v1/events");
    state.events = r.events.slice(-2000);
    state.failovers = r.failovers;
    renderEvents();
    renderFailovers();
  } catch (_) { /* shown by the connection pill */ }
  mergedBusy = false;
}, 3000);

// Same labels as `slotctl events` (EventKind::label).
const LABELS = { slotd_started: "slotd", started: "started", restarted: "restarted", adopted: "adopted", running: "running", exited: "exited",
  fatal: "fatal", paused: "paused", resumed: "resumed", fault_on: "fault-on", fault_off: "fault-off", pfail: "pfail", fail: "fail",
  fail_cleared: "fail-cleared", role_change: "role", failover: "failover", cluster_state: "cluster", slots_moved: "slots",
  writes_served: "writes-ok", assisted_failover: "assist", lab: "lab" };
const label = (k) => LABELS[k] || k;

const PHASE_COLORS = ["#7f7f7f", "#ff7f0e", "#d62728", "#9467bd", "#1f77b4", "#2ca02c", "#17becf"];

function renderFailovers() {
  const box = $("failovers");
  box.replaceChildren(...state.failovers.slice(-3).reverse().map((sw) => {
    const t0 = sw.phases.length ? sw.phases[0].ts_ms : null;
    const seen = sw.phases.filter((p) => p.ts_ms !== null && p.ts_ms !== undefined);
    const end = seen.length ? Math.max(...seen.map((p) => p.ts_ms)) : null;
    const span = t0 !== null && end !== null ? Math.max(1, end - t0) : 1;
    const bar = el("div", { class: "sw-bar", role: "img" });
    let prev = t0;
    const parts = [];
    sw.phases.forEach((p, i) => {
      if (p.ts_ms === null || p.ts_ms === undefined || prev === null) return;
      const d = Math.max(0, p.ts_ms - prev);
      if (i > 0) {
        const seg = el("div", { title: p.name + ": +" + d + " ms", text: p.name + " +" + d + " ms" });
        seg.style.flexGrow = String(Math.max(d, span / 200));
        seg.style.flexBasis = "0";
        seg.style.background = PHASE_COLORS[i % PHASE_COLORS.length];
        bar.append(seg);
      }
      parts.push(p.name + " at " + (p.ts_ms - t0) + " ms");
      prev = p.ts_ms;
    });
    bar.setAttribute("aria-label", "failover phases: " + parts.join(", "));
    return el("div", { class: "stopwatch", dataset: { oldMaster: sw.old_master, newMaster: sw.new_master } },
      el("div", {}, el("strong", { text: "Failover " + sw.old_master + " → " + sw.new_master }),
        el("span", { class: "muted", text: (sw.epoch ? " · epoch " + sw.epoch : "") + (sw.total_ms !== null && sw.total_ms !== undefined ? " · " + (sw.total_ms / 1000).toFixed(2) + " s from trigger to writes served" : "") })),
      bar,
      el("div", { class: "sw-phases" }, sw.phases.map((p) => el("span", {},
        p.name + ": " + (p.ts_ms === null || p.ts_ms === undefined ? "not seen" : (t0 === null ? "?" : "+" + (p.ts_ms - t0) + " ms"))))));
  }));
}

let failoverTimer = null;
function refreshFailovers() {
  clearTimeout(failoverTimer);
  failoverTimer = setTimeout(async () => {
    try {
      const r = await api("GET", "/v1/events?after=" + state.seenSeq);
      state.failovers = r.failovers;
      renderFailovers();
    } catch (_) { /* shown by the connection pill */ }
  }, 300);
}

function onEvent(e) {
  if (e.seq <= state.seenSeq) return;
  state.seenSeq = e.seq;
  state.events.push(e);
  if (state.events.length > 2000) state.events.splice(0, state.events.length - 2000);
  renderEvents();
  if (["failover", "writes_served", "cluster_state", "fail", "pfail", "exited", "assisted_failover"].includes(e.kind)) refreshFailovers();
}

// ---------- log ----------

function selectLogNode(name) {
  state.logNode = name;
  state.logOffset = null;
  $("log-node").value = name;
  $("log-text").textContent = "";
  pollLog();
}

async function pollLog() {
  const name = state.logNode;
  if (!name) return;
  const q = state.logOffset === null ? "lines=200" : "offset=" + state.logOffset;
  let chunk;
  try { chunk = await api("GET", "/v1/nodes/" + encodeURIComponent(name) + "/log?" + q); } catch (_) { return; }
  if (name !== state.logNode) return;
  const pre = $("log-text");
  if (state.logOffset !== null && chunk.offset < state.logOffset) pre.textContent = ""; // rotated or truncated
  if (chunk.data) {
    pre.textContent += chunk.data;
    if (pre.textContent.length > 200000) pre.textContent = pre.textContent.slice(-150000);
    if ($("log-follow").checked) pre.scrollTop = pre.scrollHeight;
  }
  state.logOffset = chunk.next_offset;
}

// ---------- live connections ----------

let statusSource = null, eventSource = null, retryTimer = null, lastFrame = 0;

function setConn(kind, text) {
  const c = $("conn");
  c.dataset.conn = kind;
  c.textContent = text;
}

function connect() {
  clearTimeout(retryTimer);
  if (statusSource) statusSource.close();
  if (eventSource) eventSource.close();
  setConn("connecting", "connecting…");
  statusSource = new EventSource("/v1/status/stream");
  statusSource.addEventListener("status", (m) => { lastFrame = Date.now(); setConn("live", "live"); onStatus(JSON.parse(m.data)); });
  statusSource.addEventListener("faults", (m) => renderFaults(JSON.parse(m.data)));
  statusSource.addEventListener("job", (m) => renderJob(JSON.parse(m.data)));
  statusSource.addEventListener("lab", (m) => renderLab(JSON.parse(m.data)));
  statusSource.onerror = () => lost();
  eventSource = new EventSource("/v1/events/stream?after=" + state.seenSeq);
  eventSource.onmessage = (m) => onEvent(JSON.parse(m.data));
  // Named events (one per kind) arrive as their own types; take them all.
  for (const k of Object.values(LABELS)) eventSource.addEventListener(k, (m) => onEvent(JSON.parse(m.data)));
  eventSource.onerror = () => lost();
  loadScenarios();
  loadCheckpoints();
}

/** slotd went away (restart, stop) or refused: try again until it answers. */
function lost() {
  if (retryTimer) return;
  setConn("down", "slotd unreachable, retrying…");
  if (statusSource) statusSource.close();
  if (eventSource) eventSource.close();
  const retry = async () => {
    retryTimer = null;
    try {
      const r = await fetch("/v1/status");
      if (r.status === 401) { askToken(); return; }
      if (r.ok) { connect(); return; }
    } catch (_) { /* still down */ }
    retryTimer = setTimeout(retry, 2000);
  };
  retryTimer = setTimeout(retry, 1000);
}

// A stream that stops sending without an error (a frozen proxy, a laptop
// waking up) is reconnected too.
setInterval(() => { if (lastFrame && Date.now() - lastFrame > 10000 && !retryTimer) lost(); }, 3000);
setInterval(() => { if ($("log-follow").checked) pollLog(); }, 2000);

// ---------- forms ----------

function wire() {
  $("projector").addEventListener("click", (e) => {
    const on = document.body.classList.toggle("projector");
    e.currentTarget.setAttribute("aria-pressed", String(on));
  });
  $("keyslot").addEventListener("submit", (e) => e.preventDefault());
  $("keyslot-key").addEventListener("input", updateKeySlot);
  $("tl-noise").addEventListener("change", renderEvents);
  $("log-node").addEventListener("change", (e) => selectLogNode(e.target.value));
  $("rs-from").addEventListener("change", () => { if (state.status) fillSelects(state.status); });
  const kindSel = $("fault-kind");
  const relabel = () => {
    const k = kindSel.value;
    $("fault-value-label").textContent = k === "delay" ? "Delay (ms)" : k === "drop" ? "Drop rate (0-1)" : "Value";
    $("fault-value").disabled = k === "partition";
    if (k === "drop" && +$("fault-value").value > 1) $("fault-value").value = "0.5";
    if (k === "delay" && +$("fault-value").value <= 1) $("fault-value").value = "200";
  };
  kindSel.addEventListener("change", relabel);
  relabel();
  $("fault-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const k = kindSel.value, node = $("fault-node").value, v = $("fault-value").value.trim();
    const forS = $("fault-for").value.trim();
    const for_ms = forS ? Math.round(parseFloat(forS) * 1000) : null;
    let body, text;
    if (k === "partition") { body = { groups: [[node]], for_ms }; text = node + " is cut off from every other node's bus"; }
    else if (k === "delay") { body = { node, ms: parseInt(v, 10), for_ms }; text = node + "'s bus frames are delayed by " + v + " ms"; }
    else { body = { node, rate: parseFloat(v), for_ms }; text = "a share " + v + " of " + node + "'s bus frames is dropped"; }
    if (!(await confirmAction("Inject a fault?", text + (for_ms ? " for " + forS + " s" : " until healed") + ".", "Inject"))) return;
    const r = await act(k + " " + node, "POST", "/v1/faults/" + k, body);
    if (r) renderFaults(r);
  });
  $("heal").addEventListener("click", async () => { const r = await act("heal", "POST", "/v1/faults/heal"); if (r) renderFaults(r); });
  $("host-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const h = $("host-name").value;
    if (!h) return;
    if (!(await confirmAction("Isolate host " + h + "?", "Its nodes are cut off from the other hosts' nodes, both ways: its masters fail over to replicas elsewhere.", "Isolate"))) return;
    const r = await act("isolate " + h, "POST", "/v1/hosts/" + encodeURIComponent(h) + "/isolate");
    if (r) toast(r.message + " (" + r.mechanism + ")");
  });
  $("host-heal").addEventListener("click", async () => {
    const h = $("host-name").value;
    if (!h) return;
    const r = await act("reconnect " + h, "POST", "/v1/hosts/" + encodeURIComponent(h) + "/heal");
    if (r) toast(r.message);
  });
  $("reshard-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const from = $("rs-from").value, to = $("rs-to").value, v = $("rs-slots").value.trim();
    const body = { from, to };
    if (/^\d+-\d+$/.test(v)) body.slot = v;
    else if (/^\d+$/.test(v)) body.slots = parseInt(v, 10);
    else { toast("slots: a count (100), or a range of slots (9842-9842, 0-99)", true); return; }
    const what = body.slot ? "slot(s) " + body.slot : body.slots + " slots";
    if (!(await confirmAction("Move " + what + "?", "From " + from + " to " + to + ", key by key with MIGRATE, as redis-cli --cluster reshard does.", "Move"))) return;
    const r = await act("reshard", "POST", "/v1/cluster/reshard", body);
    if (r) renderJob(r);
  });
  $("rebalance").addEventListener("click", async () => {
    if (!(await confirmAction("Rebalance?", "Moves slots so every master holds an even share.", "Rebalance"))) return;
    const r = await act("rebalance", "POST", "/v1/cluster/rebalance");
    if (r) renderJob(r);
  });
  $("job-cancel").addEventListener("click", async () => { const r = await act("cancel", "POST", "/v1/cluster/job/cancel"); if (r) renderJob(r); });
  $("cp-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const name = $("cp-name").value.trim();
    if (!name) { toast("checkpoint: give it a name", true); return; }
    if (await act("checkpoint " + name, "POST", "/v1/lab/checkpoints", { name })) loadCheckpoints();
  });
}

wire();
const linkToken = takeTokenFromUrl();
if (linkToken) login(linkToken); else connect();
