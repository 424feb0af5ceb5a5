// hookctl inspector: the list of requests (live, via Server-Sent Events),
// one request in detail, and Replay. No build step and no dependencies.
"use strict";

const session = document.querySelector('meta[name="hookctl-session"]').content;
const state = { events: new Map(), selected: null, open: null };
const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

function clock(iso) {
  return new Date(iso).toLocaleTimeString([], { hour12: false });
}

// The list, newest first, with the filters applied.
function visible() {
  const text = $("filter-text").value.trim().toLowerCase();
  const kind = $("filter-kind").value;
  return [...state.events.values()]
    .filter((e) => !kind || e.type === kind)
    .filter((e) => !text || [e.id, e.route, e.type, e.text, ...(e.subscriptions || [])].join(" ").toLowerCase().includes(text))
    .sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0));
}

function renderList() {
  const list = $("list");
  const items = visible();
  list.replaceChildren(...items.map((e) => {
    const li = el("li", { "data-id": e.id, role: "option", "aria-selected": String(e.id === state.selected), class: e.id === state.selected ? "selected" : "" },
      el("span", { class: "time" }, clock(e.time)),
      el("span", { class: "kind kind-" + e.type }, e.type),
      el("span", { class: "text", title: e.text },
        e.replayed ? el("span", { class: "badge" }, "replayed") : null,
        e.pending ? el("span", { class: "badge" }, "pending") : null,
        e.text || e.route),
      el("span", { class: "status" + (e.status >= 400 ? " bad" : "") }, String(e.status)));
    li.addEventListener("click", () => { select(e.id); openDetail(e.id); });
    return li;
  }));
  list.setAttribute("role", "listbox");
  $("empty").hidden = state.events.size > 0;
}

function select(id) {
  state.selected = id;
  renderList();
  const row = document.querySelector(`#list li[data-id="${CSS.escape(id)}"]`);
  if (row) row.scrollIntoView({ block: "nearest" });
}

function move(step) {
  const items = visible();
  if (items.length === 0) return;
  let at = items.findIndex((e) => e.id === state.selected);
  at = at < 0 ? 0 : Math.min(items.length - 1, Math.max(0, at + step));
  select(items[at].id);
}

async function api(path, options) {
  const resp = await fetch(path, Object.assign({ credentials: "same-origin" }, options));
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new Error(body.error || resp.statusText);
  return body;
}

// JSON with collapsible nesting.
function jsonNode(value, key) {
  const label = key === undefined ? null : el("span", { class: "key" }, JSON.stringify(key) + ": ");
  if (value !== null && typeof value === "object") {
    const entries = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
    const open = Array.isArray(value) ? "[" + entries.length + "]" : "{" + entries.length + "}";
    const details = el("details", { open: "" }, el("summary", {}, label, open));
    for (const [k, v] of entries) details.append(jsonNode(v, Array.isArray(value) ? undefined : k));
    return details;
  }
  const cls = typeof value === "string" ? "str" : typeof value === "number" ? "num" : "lit";
  return el("div", { class: "row" }, label, el("span", { class: cls }, JSON.stringify(value)));
}

function bodyView(text) {
  try {
    return el("div", { class: "json" }, jsonNode(JSON.parse(text)));
  } catch {
    return el("pre", { class: "json raw" }, text || "(empty)");
  }
}

function table(headers, rows) {
  return el("table", {}, el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", {}, h)))),
    el("tbody", {}, ...rows.map((r) => el("tr", {}, ...r.map((c) => el("td", {}, c === undefined || c === null ? "" : String(c)))))));
}

function replayable(rec) {
  return rec.type === "notification" || rec.type === "lifecycle" || rec.type === "teams";
}

async function openDetail(id) {
  state.open = id;
  let rec;
  try {
    rec = await api("/api/events/" + encodeURIComponent(id));
  } catch (err) {
    $("detail").replaceChildren(el("p", { class: "message error" }, err.message));
    return;
  }
  if (state.open !== id) return;
  const message = el("p", { class: "message", role: "status" });
  const replay = el("button", { type: "button", id: "replay", onclick: () => replayOpen() }, "Replay");
  const edit = el("button", { type: "button", class: "secondary", onclick: () => editView(rec) }, "Edit and replay");
  if (!replayable(rec)) {
    replay.disabled = true;
    edit.disabled = true;
    replay.title = edit.title = "validations and rejected requests do not replay through the listener; use hookctl events replay --to URL";
  }
  const meta = el("dl", { class: "meta" });
  const add = (k, v) => { if (v !== undefined && v !== null && v !== "") meta.append(el("dt", {}, k), el("dd", {}, String(v))); };
  add("id", rec.id);
  add("time", new Date(rec.time).toLocaleString());
  add("type", rec.type);
  add("request", rec.method + " " + rec.route);
  add("answer", rec.status + " in " + (rec.latencyNs / 1e6).toFixed(1) + " ms");
  add("replayed", rec.replayed ? "yes" : "");
  add("state", rec.pending ? "processing" : rec.interrupted ? "interrupted by a restart" : "done");
  add("subscriptions", (rec.subscriptions || []).join(", "));
  add("reason", rec.reason);
  add("reply", rec.reply);

  const parts = [el("h2", {}, rec.type + " " + rec.id), meta, el("div", { class: "actions" }, replay, edit), message];
  const notifications = rec.notifications || [];
  const contents = notifications.filter((n) => n.content);
  const bodyColumn = el("div", {}, el("h2", {}, contents.length ? "Body (as received)" : "Body"), bodyView(rec.body));
  const columns = el("div", { class: "columns" }, bodyColumn);
  for (const n of contents) {
    const what = n.decrypted === undefined ? "fetched" : "decrypted";
    columns.append(el("div", {}, el("h2", {}, "Content (" + what + ")"), el("div", { class: "json" }, jsonNode(n.content))));
  }
  parts.push(columns);
  if (notifications.length) {
    parts.push(el("h2", {}, "Notifications"), table(["subscription", "change", "resource", "outcome", "content"],
      notifications.map((n) => [n.subscriptionId, n.changeType || n.lifecycleEvent, n.resource,
        n.outcome + (n.count ? " ×" + n.count : "") + (n.replayed ? " (replayed)" : ""),
        n.fetchError || n.decryptError || (n.decrypted ? "decrypted" : n.content ? "fetched" : "")])));
  }
  if ((rec.forwards || []).length) {
    parts.push(el("h2", {}, "Forward attempts"), table(["target", "attempt", "status", "latency", "error"],
      rec.forwards.map((f) => [f.target, f.attempt, f.status || "", f.latencyNs ? (f.latencyNs / 1e6).toFixed(1) + " ms" : "", f.error])));
  }
  if ((rec.headers || []).length) {
    parts.push(el("h2", {}, "Headers"), table(["name", "value"], rec.headers.map((h) => [h.name, h.value])));
  }
  $("detail").replaceChildren(...parts);
}

async function replay(id, body) {
  const options = { method: "POST", headers: { "X-Hookctl-Session": session, "Content-Type": "application/json" } };
  if (body !== undefined) options.body = JSON.stringify({ body });
  const result = await api("/api/events/" + encodeURIComponent(id) + "/replay", options);
  return result.id;
}

async function replayOpen() {
  const id = state.open || state.selected;
  if (!id) return;
  const message = document.querySelector("#detail .message");
  try {
    const newID = await replay(id);
    if (message) message.textContent = "Replayed as " + newID;
  } catch (err) {
    if (message) { message.textContent = err.message; message.classList.add("error"); }
  }
}

function editView(rec) {
  let text = rec.body;
  try { text = JSON.stringify(JSON.parse(rec.body), null, 2); } catch { /* not JSON: as it is */ }
  const area = el("textarea", { "aria-label": "Body to replay", spellcheck: "false" });
  area.value = text;
  const message = el("p", { class: "message", role: "status" });
  const send = el("button", { type: "button", onclick: async () => {
    try {
      message.textContent = "Replayed as " + await replay(rec.id, area.value);
      message.classList.remove("error");
    } catch (err) {
      message.textContent = err.message;
      message.classList.add("error");
    }
  } }, "Send edited body");
  const back = el("button", { type: "button", class: "secondary", onclick: () => openDetail(rec.id) }, "Back");
  $("detail").replaceChildren(el("h2", {}, "Edit and replay " + rec.id),
    el("p", { class: "hint" }, "[REDACTED] values are put back before sending: the listener verifies the clientState it was sent with."),
    area, el("div", { class: "actions" }, send, back), message);
  area.focus();
}

function connect() {
  const source = new EventSource("/api/stream");
  source.addEventListener("open", () => { $("status").textContent = "live"; });
  source.addEventListener("error", () => { $("status").textContent = "reconnecting…"; });
  source.addEventListener("event", (msg) => {
    const e = JSON.parse(msg.data);
    state.events.set(e.id, e);
    renderList();
    if (state.open === e.id && !document.querySelector("#detail textarea")) openDetail(e.id);
  });
}

document.addEventListener("keydown", (ev) => {
  const tag = ev.target.tagName;
  if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || ev.altKey || ev.ctrlKey || ev.metaKey) return;
  if (ev.key === "ArrowDown") { move(1); ev.preventDefault(); }
  else if (ev.key === "ArrowUp") { move(-1); ev.preventDefault(); }
  else if (ev.key === "Enter" && state.selected && tag !== "BUTTON") { openDetail(state.selected); ev.preventDefault(); }
  else if (ev.key === "r" && (state.open || state.selected)) {
    if (!state.open) openDetail(state.selected).then(replayOpen); else replayOpen();
    ev.preventDefault();
  }
});
$("filter-text").addEventListener("input", renderList);
$("filter-kind").addEventListener("change", renderList);

(async function start() {
  connect();
  try {
    const { events } = await api("/api/events");
    for (const e of events) if (!state.events.has(e.id)) state.events.set(e.id, e);
    renderList();
  } catch (err) {
    $("status").textContent = err.message;
  }
})();
