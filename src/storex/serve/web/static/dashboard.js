/* StoreX dashboard: live service figures (polled), model versions and the rollback button. */
(() => {
  "use strict";

  const root = document.body.dataset.root || "";
  const POLL_MS = 3000;
  const UNAVAILABLE = "The StoreX service is unavailable (no answer); figures resume when it is back.";
  let previous = null; // the last reading, for the request rate

  const $ = (selector) => document.querySelector(selector);
  const ms = (value) => (value === null || value === undefined ? "—" : `${value.toFixed(1)} ms`);

  function cell(text, header) {
    const node = document.createElement(header ? "th" : "td");
    if (header) node.scope = "row";
    node.textContent = text;
    return node;
  }

  function fillTable(table, rows) {
    const body = table.querySelector("tbody");
    body.replaceChildren(
      ...rows.map((values) => {
        const row = document.createElement("tr");
        values.forEach((value, i) => row.append(cell(value, i === 0)));
        return row;
      })
    );
    if (!rows.length) {
      const row = document.createElement("tr");
      const empty = cell("No API requests yet.");
      empty.colSpan = table.querySelectorAll("thead th").length;
      row.append(empty);
      body.append(row);
    }
  }

  async function fetchJson(path, options) {
    let response;
    try {
      response = await fetch(root + path, options);
    } catch (err) {
      throw new Error(UNAVAILABLE);
    }
    let data = null;
    try {
      data = await response.json();
    } catch (err) {
      data = null;
    }
    if (!response.ok) {
      const detail = (data && data.detail) || `the server answered ${response.status}`;
      const error = new Error(detail);
      error.status = response.status;
      throw error;
    }
    return data;
  }

  /* ---- live figures ----------------------------------------------------------------- */

  function showLive(live) {
    $("[data-live-requests]").textContent = live.requests.toLocaleString();
    if (previous && live.at > previous.at) {
      const rate = (live.requests - previous.requests) / (live.at - previous.at);
      $("[data-live-rate]").textContent = `${rate.toFixed(2)} req/s`;
    }
    previous = live;
    $("[data-live-p50]").textContent = ms(live.latency_ms.p50);
    $("[data-live-p95]").textContent = ms(live.latency_ms.p95);
    $("[data-live-p99]").textContent = ms(live.latency_ms.p99);
    const rate = live.cache.hit_rate;
    $("[data-live-cache]").textContent =
      rate === null ? "no answers yet" : `${(rate * 100).toFixed(1)} % of ${live.cache.hits + live.cache.misses}`;
    const errors = Object.values(live.errors).reduce((a, b) => a + b, 0);
    const byStatus = Object.entries(live.errors).map(([s, n]) => `${n}×${s}`).join(", ");
    $("[data-live-errors]").textContent = errors ? `${errors} (${byStatus})` : "0";
    fillTable(
      $("[data-live-answers]"),
      Object.entries(live.answers).map(([strategy, n]) => [strategy, n.toLocaleString()])
    );
    fillTable(
      $("[data-live-routes]"),
      live.routes.map((r) => [`${r.method} ${r.route}`, r.requests.toLocaleString(), ms(r.p50), ms(r.p95)])
    );
  }

  async function pollLive() {
    const status = $("[data-live-status]");
    try {
      showLive(await fetchJson("/web/api/live"));
      status.textContent = "";
    } catch (err) {
      status.textContent = err.message;
    }
    window.setTimeout(pollLive, POLL_MS);
  }

  /* ---- versions and rollback -------------------------------------------------------- */

  function showVersions(info) {
    const table = $("[data-versions-table]");
    const status = $("[data-versions-status]");
    const button = $("[data-rollback-button]");
    if (!info.versions.length) {
      table.hidden = true;
      status.textContent = "No model version is published yet.";
      button.disabled = true;
      return;
    }
    const rows = info.versions.map((v) => {
      const marks = [];
      if (v.serving) marks.push("serving");
      if (v.current) marks.push("registry current");
      const row = document.createElement("tr");
      if (v.serving) row.className = "trained";
      row.dataset.version = v.version;
      row.append(cell(v.version, true), cell(v.trained), cell(v.model || "—"), cell(marks.join(", ") || "—"));
      return row;
    });
    table.querySelector("tbody").replaceChildren(...rows);
    table.hidden = false;
    status.textContent =
      `${info.versions.length} version${info.versions.length > 1 ? "s" : ""} of ${info.name}; ` +
      `serving ${info.serving || "none"}.`;
    button.disabled = !info.can_roll_back;
    button.title = info.can_roll_back ? "" : "There is no earlier version to roll back to.";
  }

  async function loadVersions() {
    try {
      showVersions(await fetchJson("/web/api/models"));
    } catch (err) {
      $("[data-versions-status]").textContent = err.message;
    }
  }

  async function onRollback(event) {
    event.preventDefault();
    const form = event.currentTarget;
    const message = form.querySelector("[data-rollback-message]");
    const button = form.querySelector("[data-rollback-button]");
    const key = form.querySelector("input").value;
    message.className = "";
    message.textContent = "Rolling back…";
    button.disabled = true;
    try {
      const change = await fetchJson("/api/model/rollback", {
        method: "POST",
        headers: { "X-API-Key": key, Accept: "application/json" },
      });
      message.className = "ok";
      message.textContent =
        `Rolled back: now serving ${change.version} (was ${change.previous || "none"}). ` +
        "Reload the page to see its details.";
      const serving = $("[data-serving-version]");
      if (serving) serving.textContent = change.version;
    } catch (err) {
      message.className = "error";
      const hint = { 401: "The API key was not accepted", 403: "Rollback is off", 409: "Cannot roll back" };
      message.textContent = err.status in hint ? `${hint[err.status]}: ${err.message}` : err.message;
    }
    await loadVersions();
  }

  pollLive();
  loadVersions();
  $("[data-rollback-form]").addEventListener("submit", onRollback);
})();
