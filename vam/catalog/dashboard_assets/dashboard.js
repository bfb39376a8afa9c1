// vam dashboard: renders the embedded registry (docs/manifest-format.md). Plain DOM, no framework.
// Every piece of data goes in through textContent, never innerHTML, so names stay text.
//
// Registry fields read (all optional; a missing one shows as "–" or is computed from projects):
//   generated_at, projects_root, totals.{brands, projects, local_bytes, ssd_bytes, s3_bytes, s3_files}
//   brands[].brand.{key, name}; .ssd.{path, mounted, free_bytes, total_bytes}
//   brands[].s3.{available, error} (no "s3" key = S3 not read); .disk.{free_bytes, total_bytes}
//   brands[].totals.{projects, active, archived, on_ssd, in_s3, active_bytes, archived_bytes,
//                    ssd_bytes, s3_bytes, s3_files, local_bytes}
//   brands[].warnings[].{project, kind, message}
//   brands[].projects[].{id, type, valid_id, range, warnings[]} and .storage:
//     local.{exists, structure, path, bytes, heavy_bytes, files, has_heavy_files,
//            has_light_files, last_modified}; ssd.{exists, path, bytes};
//     s3.{files, bytes, last_modified, state, expires,
//         objects[].{path, bytes, last_modified, uploaded_by, state, expires?, elsewhere?,
//                    only_in_staging?}};
//     cloud.{files, bytes, class, archived_at, restore{state, detail}?, monthly_cost} (absent:
//            the archive was not read); and .copies.{local, ssd, cloud, count, unknown[]}
//   brands[].cloud.{available, error}; .totals.{in_cloud, cloud_bytes, cloud_files,
//                                               cloud_monthly_cost}
"use strict";

(function () {
  const registry = JSON.parse(document.getElementById("registry-data").textContent);
  const page = JSON.parse(document.getElementById("page-data").textContent);
  const DAY_MS = 86400000;
  const GIB = 1024 * 1024 * 1024;
  const reference = Date.parse(registry.generated_at || page.written_at) || Date.now();

  const WARNING_KINDS = [
    ["conflict", "Conflicts"],
    ["only_in_staging", "Only copy in S3 staging"],
    ["not_backed_up", "Fewer than two copies"],
    ["staging_expiring", "Staging expiring soon"],
    ["heavy_in_archived", "Heavy files in archived folders"],
    ["invalid_id", "Invalid project ids"],
    ["ssd_unmounted", "SSD not plugged in"],
    ["ssd_not_configured", "No SSD configured"],
    ["s3_unavailable", "S3 unavailable"],
    ["cloud_unavailable", "Cloud archive unavailable"],
  ];

  // ------------------------------------------------------------------ formatting

  function formatSize(bytes) {
    if (bytes === null || bytes === undefined || Number.isNaN(Number(bytes))) return "–";
    let n = Number(bytes);
    for (const unit of ["B", "KB", "MB", "GB", "TB"]) {
      if (Math.abs(n) < 1000 || unit === "TB") {
        return unit === "B" ? Math.trunc(n) + " B" : n.toFixed(1) + " " + unit;
      }
      n /= 1000;
    }
    return "–";
  }

  function formatCost(bytes) {
    const dollars = ((Number(bytes) || 0) / GIB) * page.s3_price_per_gb_month;
    if (dollars === 0) return "$0.00";
    return dollars < 0.01 ? "< $0.01" : "$" + dollars.toFixed(2);
  }

  function formatDollars(amount) {
    const dollars = Number(amount) || 0;
    if (dollars === 0) return "$0.00";
    return dollars < 0.01 ? "< $0.01" : "$" + dollars.toFixed(2);
  }

  function formatTime(iso) {
    if (!iso) return "–";
    const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})/.exec(iso);
    return m ? m[1] + " " + m[2] + " UTC" : String(iso);
  }

  function daysUntil(date) {
    const when = Date.parse(String(date).slice(0, 10) + "T00:00:00Z");
    return Number.isNaN(when) ? null : Math.ceil((when - reference) / DAY_MS);
  }

  function relativeDays(days) {
    if (days === 0) return "today";
    return days > 0 ? "in " + plural(days, "day") : plural(-days, "day") + " ago";
  }

  function plural(n, word) {
    return n + " " + word + (n === 1 ? "" : "s");
  }

  function fold(text) {
    // case- and accent-insensitive search: "cafe" finds "café"
    return String(text).normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }

  // ------------------------------------------------------------------ DOM helpers

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function defList(pairs, inline) {
    return el("dl", { class: inline ? "facts inline" : "facts" },
      pairs.map(([k, v]) => el("div", {}, el("dt", {}, k), el("dd", {}, v))));
  }

  // ------------------------------------------------------------------ the data, flattened

  const brands = (registry.brands || []).map((b, index) => {
    const info = b.brand || {};
    return {
      index: index,
      key: String(info.key || "brand-" + index),
      name: String(info.name || info.key || "brand " + index),
      raw: b,
    };
  });

  const projects = [];
  for (const brand of brands) {
    for (const p of brand.raw.projects || []) {
      const storage = p.storage || {};
      const local = storage.local || {};
      const ssd = storage.ssd || {};
      const s3 = storage.s3; // absent when S3 could not be read
      const cloud = storage.cloud; // absent when the cloud archive was not read
      const row = {
        brand: brand,
        id: String(p.id),
        raw: p,
        local: local,
        ssd: ssd,
        s3: s3,
        cloud: cloud,
        copies: p.copies || null,
        active: local.exists === true && local.structure !== "archived",
        archived: local.exists === true && local.structure === "archived",
        onSsd: ssd.exists === true,
        inS3: !!s3 && (Number(s3.files) || 0) > 0,
        inCloud: !!cloud && (Number(cloud.files) || 0) > 0,
      };
      row.ssdOnly = row.onSsd && !local.exists && !row.inS3;
      row.search = fold(row.id + " " + (p.name || "") + " " + (p.title || ""));
      projects.push(row);
    }
  }

  function brandTotals(brand) {
    const own = brand.raw.totals || {};
    const rows = projects.filter((p) => p.brand === brand);
    const sum = (pick) => rows.reduce((acc, p) => acc + (Number(pick(p)) || 0), 0);
    const count = (test) => rows.filter(test).length;
    const computed = {
      projects: rows.length,
      active: count((p) => p.active),
      archived: count((p) => p.archived),
      on_ssd: count((p) => p.onSsd),
      in_s3: count((p) => p.inS3),
      active_bytes: sum((p) => (p.active ? p.local.bytes : 0)),
      archived_bytes: sum((p) => (p.archived ? p.local.bytes : 0)),
      ssd_bytes: sum((p) => (p.onSsd ? p.ssd.bytes : 0)),
      s3_bytes: sum((p) => (p.s3 ? p.s3.bytes : 0)),
      s3_files: sum((p) => (p.s3 ? p.s3.files : 0)),
      in_cloud: count((p) => p.inCloud),
      cloud_bytes: sum((p) => (p.cloud ? p.cloud.bytes : 0)),
      cloud_files: sum((p) => (p.cloud ? p.cloud.files : 0)),
      cloud_monthly_cost: sum((p) => (p.cloud ? p.cloud.monthly_cost : 0)),
    };
    // the manifest's own totals win; computed ones fill the gaps of an older or partial registry
    const out = {};
    for (const key of Object.keys(computed)) {
      out[key] = typeof own[key] === "number" ? own[key] : computed[key];
    }
    return out;
  }
  for (const brand of brands) brand.totals = brandTotals(brand);

  function hasKind(list, kind, project) {
    return list.some((w) => w.kind === kind && (project === undefined || w.project === project));
  }

  // Warnings: the manifest's, plus the ones the page can see for itself if the manifest did not
  // say them (S3 not read, SSD unplugged, heavy files in an archived folder, staging about to
  // expire). "Not backed up" and conflicts need the manifest's judgement, so only it says them.
  const warnings = [];
  for (const brand of brands) {
    const own = (brand.raw.warnings || []).map((w) => ({
      brand: brand,
      kind: String(w.kind || "other"),
      project: w.project === null || w.project === undefined ? null : String(w.project),
      message: String(w.message || w.kind || ""),
    }));
    const s3info = brand.raw.s3;
    if ((!s3info || s3info.available === false) && !hasKind(own, "s3_unavailable")) {
      const why = s3info && s3info.error ? ": " + s3info.error : "";
      own.push({ brand, kind: "s3_unavailable", project: null, seen: true,
                 message: "S3 staging was not read for this brand" + why });
    }
    const ssdInfo = brand.raw.ssd;
    const ssdSaid = hasKind(own, "ssd_unmounted") || hasKind(own, "ssd_not_configured");
    if (ssdInfo && ssdInfo.mounted === false && !ssdSaid) {
      own.push(ssdInfo.path
        ? { brand, kind: "ssd_unmounted", project: null, seen: true,
            message: "SSD not plugged in (" + ssdInfo.path + "); SSD copies unknown" }
        : { brand, kind: "ssd_not_configured", project: null, seen: true,
            message: "no SSD configured for this brand; SSD copies unknown" });
    }
    for (const p of projects.filter((x) => x.brand === brand && x.archived && x.local.has_heavy_files)) {
      if (!hasKind(own, "heavy_in_archived", p.id)) {
        own.push({ brand, kind: "heavy_in_archived", project: p.id, seen: true,
                   message: formatSize(p.local.heavy_bytes) + " of heavy files in an archived folder" });
      }
    }
    for (const p of projects.filter((x) => x.brand === brand && x.inS3 && x.s3.expires)) {
      const days = daysUntil(p.s3.expires);
      if (days !== null && days <= page.expiry_warning_days && !hasKind(own, "staging_expiring", p.id)) {
        own.push({ brand, kind: "staging_expiring", project: p.id, seen: true,
                   message: "S3 staging expires " + p.s3.expires + " (" + relativeDays(days) + ")" });
      }
    }
    warnings.push(...own);
  }

  function findProject(brand, id) {
    return projects.find((p) => p.brand === brand && p.id === id) || null;
  }

  // A project's warnings: its own list from the manifest (or, if it has none, the brand's
  // warnings naming it), plus what the page saw for itself. `seen` marks the page's own.
  function warningsFor(p) {
    const about = warnings.filter((w) => w.brand === p.brand && w.project === p.id);
    const own = (p.raw.warnings || []).map(String);
    const listed = own.length ? own : about.filter((w) => !w.seen).map((w) => w.message);
    return listed.concat(about.filter((w) => w.seen).map((w) => w.message));
  }
  for (const p of projects) p.warnings = warningsFor(p);

  // ------------------------------------------------------------------ header and brand table

  const allTotals = (() => {
    const own = registry.totals || {};
    const pick = (key, fallback) => (typeof own[key] === "number" ? own[key] : fallback);
    const sum = (key) => brands.reduce((acc, b) => acc + (Number(b.totals[key]) || 0), 0);
    const localSum = brands.reduce(
      (acc, b) => acc + (typeof (b.raw.totals || {}).local_bytes === "number"
        ? b.raw.totals.local_bytes : b.totals.active_bytes + b.totals.archived_bytes), 0);
    return {
      brands: pick("brands", brands.length),
      projects: pick("projects", sum("projects")),
      local_bytes: pick("local_bytes", localSum),
      ssd_bytes: pick("ssd_bytes", sum("ssd_bytes")),
      s3_bytes: pick("s3_bytes", sum("s3_bytes")),
      s3_files: pick("s3_files", sum("s3_files")),
      cloud_bytes: pick("cloud_bytes", sum("cloud_bytes")),
      cloud_files: pick("cloud_files", sum("cloud_files")),
      cloud_monthly_cost: pick("cloud_monthly_cost", sum("cloud_monthly_cost")),
    };
  })();

  function renderHeader() {
    const parts = [];
    if (registry.generated_at) parts.push("Registry generated " + formatTime(registry.generated_at));
    if (registry.projects_root) parts.push("from " + registry.projects_root);
    parts.push("page written " + formatTime(page.written_at));
    document.getElementById("meta").textContent = parts.join(" · ");

    const items = [
      ["brands", "Brands", String(allTotals.brands)],
      ["projects", "Projects", String(allTotals.projects)],
      ["local", "Local", formatSize(allTotals.local_bytes)],
      ["ssd", "SSD", formatSize(allTotals.ssd_bytes)],
      ["s3", "S3 staging", formatSize(allTotals.s3_bytes) + " · " + plural(allTotals.s3_files, "file")],
      ["cost", "S3 / month", formatCost(allTotals.s3_bytes)],
      ["cloud", "Cloud archive", formatSize(allTotals.cloud_bytes) + " · " + plural(allTotals.cloud_files, "file")],
      ["archive-cost", "Archive / month", formatDollars(allTotals.cloud_monthly_cost)],
      ["warnings", "Warnings", String(warnings.length)],
    ];
    document.getElementById("totals").replaceChildren(
      ...items.map(([key, label, value]) =>
        el("div", { "data-total": key, class: key === "warnings" && warnings.length ? "alert" : null },
          el("dt", {}, label), el("dd", {}, value))));
    document.getElementById("price-note").textContent =
      "Per month is an estimate. Staging: its size × $" + page.s3_price_per_gb_month +
      " per GB-month (S3 Standard, first 50 TB; 1 GB = 2³⁰ bytes). " +
      "Requests, transfer and old object versions are not included. " +
      "Archive: each archived file at its storage class's price, with the class's " +
      "per-object overhead; " + (page.archive_price_note || "");
  }

  function usage(free, total) {
    if (typeof total !== "number" || total <= 0) return "–";
    if (typeof free !== "number") return formatSize(total) + ", free space unknown";
    const used = Math.max(0, total - (Number(free) || 0));
    const [freeNum, freeUnit] = formatSize(free).split(" ");
    const totalText = formatSize(total);
    // "212.0 of 494.0 GB free", keeping both units only when they differ
    const freeText = totalText.endsWith(" " + freeUnit) ? freeNum : freeNum + " " + freeUnit;
    return el("span", { class: "usage", title: formatSize(used) + " used" },
      el("meter", { min: 0, max: total, value: used, high: total * 0.9, "aria-hidden": "true" }),
      " " + freeText + " of " + totalText + " free");
  }

  function renderBrands() {
    const body = document.querySelector("#brands tbody");
    if (!brands.length) {
      body.replaceChildren(el("tr", {}, el("td", { colspan: 14, class: "empty" },
        "No brands in the registry yet. Run `vam manifest.generate --all`, then `vam dashboard`.")));
      return;
    }
    body.replaceChildren(...brands.map((b) => {
      const t = b.totals;
      const s3info = b.raw.s3;
      const s3ok = s3info && s3info.available !== false;
      const cloudInfo = b.raw.cloud;
      const cloudOk = !!cloudInfo && cloudInfo.available !== false; // absent: not read
      const ssdInfo = b.raw.ssd;
      // an SSD nobody configured is not an SSD someone forgot to plug in
      let ssdCell = "no SSD configured";
      if (ssdInfo && ssdInfo.mounted) ssdCell = usage(ssdInfo.free_bytes, ssdInfo.total_bytes);
      else if (ssdInfo && ssdInfo.path) ssdCell = el("span", { class: "bad" }, "not plugged in");
      const disk = b.raw.disk || {};
      return el("tr", { "data-brand": b.key },
        el("th", { scope: "row" },
          el("button", { type: "button", class: "link", title: "Show only " + b.name,
                         onclick: () => setFilters({ brand: b.key }) }, b.name)),
        el("td", { class: "num", "data-col": "projects" }, t.projects),
        el("td", { class: "num", "data-col": "active" }, t.active),
        el("td", { class: "num", "data-col": "archived" }, t.archived),
        el("td", { class: "num", "data-col": "on_ssd" }, t.on_ssd),
        el("td", { class: "num", "data-col": "in_s3" }, t.in_s3),
        el("td", { class: "num", "data-col": "active_bytes" }, formatSize(t.active_bytes)),
        el("td", { class: "num", "data-col": "archived_bytes" }, formatSize(t.archived_bytes)),
        el("td", { class: "num", "data-col": "ssd_bytes" }, formatSize(t.ssd_bytes)),
        el("td", { class: "num", "data-col": "s3_bytes" },
          s3ok ? [formatSize(t.s3_bytes), el("br"), el("span", { class: "sub" }, plural(t.s3_files, "file"))]
               : el("span", { class: "bad" }, "unavailable")),
        el("td", { class: "num", "data-col": "cloud_bytes" },
          cloudOk ? [formatSize(t.cloud_bytes), el("br"), el("span", { class: "sub" }, plural(t.in_cloud, "project"))]
            : cloudInfo ? el("span", { class: "bad" }, "unavailable") : "–"),
        // the archive's monthly cost beside the staging's
        el("td", { class: "num", "data-col": "cost" },
          el("span", { "data-part": "staging" }, (s3ok ? formatCost(t.s3_bytes) : "–") + " staging"),
          el("br"),
          el("span", { "data-part": "archive" }, (cloudOk ? formatDollars(t.cloud_monthly_cost) : "–") + " archive")),
        el("td", { "data-col": "disk" }, usage(disk.free_bytes, disk.total_bytes)),
        el("td", { "data-col": "ssd" }, ssdCell));
    }));
  }

  // ------------------------------------------------------------------ filters

  const searchBox = document.getElementById("search");
  const brandSelect = document.getElementById("brand-filter");
  const stateSelect = document.getElementById("state-filter");
  for (const b of brands) brandSelect.append(el("option", { value: b.key }, b.name));

  const STATE_TESTS = {
    active: (p) => p.active,
    archived: (p) => p.archived,
    ssd: (p) => p.onSsd,
    "ssd-only": (p) => p.ssdOnly,
    s3: (p) => p.inS3,
    cloud: (p) => p.inCloud,
    copies: (p) => fewCopies(p),
    warnings: (p) => p.warnings.length > 0,
  };

  function inBrand(p) {
    return !brandSelect.value || p.brand.key === brandSelect.value;
  }

  // Column sorting: [key of a row, first direction]; sizes and counts start with the largest.
  const SORTS = {
    brand: [(p) => p.brand.index, 1],
    id: [(p) => p.id, 1],
    local: [(p) => (p.local.exists ? Number(p.local.bytes) || 0 : -1), -1],
    range: [(p) => (p.onSsd ? p.raw.range || "" : "~"), 1],
    s3: [(p) => (p.inS3 ? Number(p.s3.bytes) || 0 : -1), -1],
    expires: [(p) => (p.inS3 && p.s3.expires ? p.s3.expires : "9999"), 1],
    copies: [(p) => (p.copies ? Number(p.copies.count) || 0 : -1), 1],
    warnings: [(p) => p.warnings.length, -1],
  };
  let sorting = null; // { key, direction } or null for the registry's order

  function compare(a, b) {
    if (typeof a === "number" && typeof b === "number") return a - b;
    return String(a).localeCompare(String(b), "en", { numeric: true, sensitivity: "base" });
  }

  function visibleProjects() {
    const words = fold(searchBox.value).split(/\s+/).filter(Boolean);
    const state = STATE_TESTS[stateSelect.value];
    const shown = projects.filter((p) =>
      inBrand(p) && (!state || state(p)) && words.every((w) => p.search.includes(w)));
    if (sorting) {
      const pick = SORTS[sorting.key][0];
      shown.sort((a, b) => sorting.direction * compare(pick(a), pick(b))); // stable
    }
    return shown;
  }

  function sortBy(key) {
    const first = SORTS[key][1];
    sorting = sorting && sorting.key === key
      ? { key, direction: -sorting.direction }
      : { key, direction: first };
    for (const th of document.querySelectorAll("#projects th[data-sort]")) {
      const on = th.dataset.sort === sorting.key;
      if (on) th.setAttribute("aria-sort", sorting.direction > 0 ? "ascending" : "descending");
      else th.removeAttribute("aria-sort");
    }
    renderProjects();
  }

  for (const th of document.querySelectorAll("#projects th[data-sort]")) {
    th.querySelector("button").addEventListener("click", () => sortBy(th.dataset.sort));
  }

  function setFilters(values) {
    if ("search" in values) searchBox.value = values.search;
    if ("brand" in values) brandSelect.value = values.brand;
    if ("state" in values) stateSelect.value = values.state;
    renderAll();
    document.getElementById("projects-title").scrollIntoView({ block: "start" });
  }

  // ------------------------------------------------------------------ by state

  function renderStates() {
    const rows = projects.filter(inBrand);
    const chosen = brands.find((b) => b.key === brandSelect.value);
    document.getElementById("states-scope").textContent = chosen ? "– " + chosen.name : "– all brands";
    const size = (list, pick) => formatSize(list.reduce((a, p) => a + (Number(pick(p)) || 0), 0));
    const ranges = new Map();
    for (const p of rows.filter((x) => x.onSsd)) {
      const range = p.raw.range || "no range";
      ranges.set(range, (ranges.get(range) || 0) + 1);
    }
    const rangeList = [...ranges.entries()].sort((a, b) =>
      a[0].localeCompare(b[0], "en", { numeric: true }));
    const card = (state, title, list, detail, extra) =>
      el("button", { type: "button", class: "state", "data-state": state,
                     "aria-pressed": stateSelect.value === state ? "true" : "false",
                     onclick: () => setFilters({ state: stateSelect.value === state ? "" : state }) },
        el("span", { class: "state-title" }, title),
        el("span", { class: "state-count" }, list.length),
        el("span", { class: "state-detail" }, detail),
        extra || null);
    const active = rows.filter((p) => p.active);
    const archived = rows.filter((p) => p.archived);
    const ssd = rows.filter((p) => p.onSsd);
    const s3 = rows.filter((p) => p.inS3);
    const cloud = rows.filter((p) => p.inCloud);
    document.getElementById("states").replaceChildren(
      card("active", "Active", active, size(active, (p) => p.local.bytes)),
      card("archived", "Archived", archived, size(archived, (p) => p.local.bytes) + " light files"),
      card("ssd", "On SSD", ssd, size(ssd, (p) => p.ssd.bytes),
        rangeList.length ? el("span", { class: "ranges" },
          rangeList.map(([range, n]) => el("span", { class: "range", "data-range": range }, range + ": " + n)))
          : null),
      card("s3", "In S3 staging", s3,
        size(s3, (p) => p.s3.bytes) + " · " +
        plural(s3.reduce((a, p) => a + (Number(p.s3.files) || 0), 0), "file")),
      card("cloud", "In the cloud archive", cloud,
        size(cloud, (p) => p.cloud.bytes) + " · " +
        formatDollars(cloud.reduce((a, p) => a + (Number(p.cloud.monthly_cost) || 0), 0)) + "/month"));
  }

  // ------------------------------------------------------------------ warnings panel

  function renderWarnings() {
    const list = warnings.filter((w) => !brandSelect.value || w.brand.key === brandSelect.value);
    document.getElementById("warnings-count").textContent = "(" + list.length + ")";
    const box = document.getElementById("warnings");
    if (!list.length) {
      box.replaceChildren(el("p", { class: "ok" }, "No warnings."));
      return;
    }
    const known = WARNING_KINDS.map(([k]) => k);
    const kinds = [...known, ...new Set(list.map((w) => w.kind).filter((k) => !known.includes(k)))];
    const labels = Object.fromEntries(WARNING_KINDS);
    const groups = kinds.map((kind) => [kind, list.filter((w) => w.kind === kind)]).filter(([, ws]) => ws.length);
    box.replaceChildren(...groups.map(([kind, ws]) =>
      el("details", { open: true, "data-kind": kind },
        el("summary", {}, (labels[kind] || kind) + " (" + ws.length + ")"),
        el("ul", {}, ws.map((w) => {
          const target = w.project === null ? null : findProject(w.brand, w.project);
          const where = w.brand.name + (w.project === null ? "" : " · " + w.project);
          const text = [el("strong", {}, where), " — " + w.message];
          return el("li", {}, target
            ? el("button", { type: "button", class: "link", onclick: (e) => openDetail(target, e.currentTarget) }, text)
            : text);
        })))));
  }

  // ------------------------------------------------------------------ project list

  function badge(text, kind, title) {
    return el("span", { class: "badge " + kind, title: title }, text);
  }

  function whereBadges(p) {
    const out = [];
    if (p.active) out.push(badge("Local", "local", "active project folder on this computer"));
    if (p.archived) out.push(badge("Archived", "archived", "light files under archived/"));
    if (p.onSsd) out.push(badge("SSD", "ssd", "copy on the archive SSD"));
    else if (p.ssd.exists === null && p.ssd.path) out.push(badge("SSD ?", "unknown", "SSD not plugged in"));
    if (p.inS3) out.push(badge("S3", "s3", "files in S3 staging"));
    if (!p.s3) out.push(badge("S3 ?", "unknown", "S3 could not be read"));
    if (p.inCloud) out.push(badge("Cloud", "cloud", "in the cloud archive (" + (p.cloud.class || "?") + ")"));
    return out;
  }

  // A project whose heavy files have fewer than two copies (the manifest's judgement: it knows
  // which projects have heavy files at all, and whether the SSD was in sight).
  function fewCopies(p) {
    return warnings.some((w) => w.brand === p.brand && w.project === p.id && w.kind === "not_backed_up");
  }

  const COPY_NAMES = { local: "this computer", ssd: "SSD", cloud: "cloud" };

  function copiesCell(p) {
    const c = p.copies;
    if (!c) return "–";
    if (c.heavy === false) return el("span", { title: "no heavy files to keep copies of" }, "–");
    const where = ["local", "ssd", "cloud"].filter((k) => c[k] === true).map((k) => COPY_NAMES[k]);
    const unknown = (c.unknown || []).map((k) => COPY_NAMES[k] + " ?");
    const text = String(c.count) + (where.length || unknown.length ? " · " + where.concat(unknown).join(", ") : "");
    return el("span", { class: fewCopies(p) ? "bad" : null,
                        title: "copies of the heavy files (S3 staging expires: it is not a copy)" }, text);
  }

  function expiryCell(p) {
    if (!p.inS3 || !p.s3.expires) return "–";
    const days = daysUntil(p.s3.expires);
    const soon = days !== null && days <= page.expiry_warning_days;
    return el("span", { class: soon ? "bad" : null },
      p.s3.expires + (days === null ? "" : " (" + relativeDays(days) + ")"));
  }

  function renderProjects() {
    const shown = visibleProjects();
    const body = document.querySelector("#projects tbody");
    body.replaceChildren(...shown.map((p) =>
      el("tr", {
        tabindex: 0, "data-brand": p.brand.key, "data-id": p.id,
        "aria-label": p.brand.name + " " + p.id + ", press Enter for details",
        onclick: (e) => openDetail(p, e.currentTarget),
        onkeydown: rowKeys,
      },
      el("td", {}, p.brand.name),
      el("td", { class: "id" }, p.id, p.raw.valid_id === false ? badge("invalid id", "bad-badge") : null),
      el("td", {}, p.raw.type || "–"),
      el("td", { class: "where" }, whereBadges(p)),
      el("td", { class: "num" }, p.local.exists ? formatSize(p.local.bytes) : "–"),
      el("td", {}, p.onSsd ? p.raw.range || "–" : "–"),
      el("td", { class: "num" }, p.inS3 ? formatSize(p.s3.bytes) + " · " + plural(p.s3.files, "file") : "–"),
      el("td", { class: "expires" }, expiryCell(p)),
      el("td", { class: "copies" }, copiesCell(p)),
      el("td", { class: "num" + (p.warnings.length ? " bad" : "") }, p.warnings.length || "–"))));
    const empty = document.getElementById("projects-empty");
    empty.hidden = shown.length > 0;
    empty.textContent = projects.length
      ? "No projects match these filters."
      : "No projects in the registry.";
    document.getElementById("shown").textContent =
      "Showing " + shown.length + " of " + plural(projects.length, "project");
  }

  function rowKeys(event) {
    const row = event.currentTarget;
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      row.click();
    } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const next = event.key === "ArrowDown" ? row.nextElementSibling : row.previousElementSibling;
      if (next) next.focus();
    }
  }

  // ------------------------------------------------------------------ detail dialog

  const dialog = document.getElementById("detail");
  let opener = null;

  function yesNo(value) {
    return value === true ? "yes" : value === false ? "no" : "unknown";
  }

  function localSection(p) {
    const l = p.local;
    if (!l.exists) return el("p", {}, "Not on this computer.");
    return defList([
      ["Folder", l.path || "–"],
      ["Kept as", l.structure === "archived" ? "archived (light files only)" : l.structure || "–"],
      ["Size", formatSize(l.bytes) + (typeof l.files === "number" ? " in " + plural(l.files, "file") : "")],
      ["Heavy files", l.has_heavy_files ? "yes" + (l.heavy_bytes ? ", " + formatSize(l.heavy_bytes) : "") : "no"],
      ["Light files", yesNo(l.has_light_files)],
      ["Last modified", formatTime(l.last_modified)],
    ]);
  }

  function ssdSection(p) {
    const s = p.ssd;
    const status = s.exists === true ? "on the SSD" : s.exists === false ? "not on the SSD"
      : s.path ? "unknown: the SSD was not plugged in" : "no SSD configured";
    return defList([["Status", status], ["Path", s.path || "–"], ["Size", formatSize(s.bytes)]]);
  }

  function s3Section(p) {
    const s = p.s3;
    if (!s) return el("p", { class: "bad" }, "S3 could not be read when the registry was made.");
    const days = s.expires ? daysUntil(s.expires) : null;
    const soon = days !== null && days <= page.expiry_warning_days;
    const facts = defList([
      ["State", s.state || "–"],
      ["Files", plural(Number(s.files) || 0, "file") + " · " + formatSize(s.bytes)],
      ["Last upload", formatTime(s.last_modified)],
      ["Expires", s.expires
        ? el("span", { class: soon ? "bad" : null },
          s.expires + (days === null ? "" : " (" + relativeDays(days) + ")"))
        : "–"],
    ], true);
    const objects = s.objects || [];
    if (!objects.length) return [facts, el("p", {}, "Nothing staged.")];
    return [facts, el("table", { class: "objects" },
      el("caption", { class: "sr-only" }, "Files in S3 staging"),
      el("thead", {}, el("tr", {},
        ["Path", "Size", "Uploaded by", "Uploaded", "Sync state", "Expires", "Elsewhere"].map((h) =>
          el("th", { scope: "col", class: h === "Size" ? "num" : null }, h)))),
      el("tbody", {}, objects.map((o) => el("tr", {},
        el("td", { class: "path" }, o.path),
        el("td", { class: "num" }, formatSize(o.bytes)),
        el("td", {}, o.uploaded_by || "unknown"),
        el("td", {}, formatTime(o.last_modified)),
        el("td", { class: o.state === "conflict" ? "bad" : null }, o.state || "–"),
        el("td", {}, o.expires || s.expires || "–"),
        elsewhereCell(o)))))];
  }

  // Where else a file of that path is (the manifest's "elsewhere"): staging expires, so a file
  // that is nowhere else is lost on its expiry date.
  const PLACES = { local: "this computer", ssd: "SSD" };

  function elsewhereCell(o) {
    if (!Array.isArray(o.elsewhere)) return el("td", {}, "–"); // a registry from before the field
    if (o.elsewhere.length) return el("td", {}, o.elsewhere.map((w) => PLACES[w] || w).join(", "));
    return el("td", { class: "bad" },
      o.only_in_staging === null ? "not here; SSD not checked" : "nowhere else");
  }

  function cloudSection(p) {
    const c = p.cloud;
    if (!c) return el("p", { class: "bad" }, "The cloud archive could not be read when the registry was made.");
    if (!(Number(c.files) > 0)) return el("p", {}, "Not in the cloud archive.");
    return defList([
      ["Files", plural(Number(c.files) || 0, "file") + " · " + formatSize(c.bytes)],
      ["Class", c.class || "–"],
      ["Archived", formatTime(c.archived_at)],
      ["Restore", c.restore ? c.restore.detail || c.restore.state : "none"],
      ["Cost", formatDollars(c.monthly_cost) + " a month"],
    ], true);
  }

  function openDetail(p, from) {
    opener = from || null;
    document.getElementById("detail-title").textContent = p.id;
    const raw = p.raw;
    const warned = p.warnings;
    // S3 first: it is what the team shares and what expires; then the two local copies side by side
    // (replaceChildren would show a null as the text "null": a project without warnings)
    document.getElementById("detail-body").replaceChildren(...[
      defList([
        ["Brand", p.brand.name],
        ["Type", raw.type || "–"],
        ["Range", raw.range || "–"],
        ["Valid id", raw.valid_id === false ? el("span", { class: "bad" }, "no") : yesNo(raw.valid_id)],
        ["Copies", copiesCell(p)],
      ], true),
      warned.length ? el("section", { class: "detail-warnings" },
        el("h3", {}, "Warnings"), el("ul", {}, warned.map((w) => el("li", {}, w)))) : null,
      el("section", { class: "s3" }, el("h3", {}, "S3 staging"), s3Section(p)),
      el("section", { class: "cloud" }, el("h3", {}, "Cloud archive"), cloudSection(p)),
      el("div", { class: "detail-cols" },
        el("section", {}, el("h3", {}, "This computer"), localSection(p)),
        el("section", {}, el("h3", {}, "SSD"), ssdSection(p))),
    ].filter(Boolean));
    if (!dialog.open) dialog.showModal();
    document.getElementById("detail-close").focus();
  }

  document.getElementById("detail-close").addEventListener("click", () => dialog.close());
  dialog.addEventListener("click", (event) => {
    if (event.target === dialog) dialog.close(); // a click on the backdrop
  });
  dialog.addEventListener("close", () => {
    if (opener && opener.isConnected) opener.focus();
  });

  // ------------------------------------------------------------------ wiring

  function renderAll() {
    renderStates();
    renderWarnings();
    renderProjects();
  }

  searchBox.addEventListener("input", renderProjects);
  brandSelect.addEventListener("change", renderAll);
  stateSelect.addEventListener("change", renderAll);
  document.getElementById("filters").addEventListener("submit", (e) => e.preventDefault());
  document.getElementById("clear-filters").addEventListener("click", () =>
    setFilters({ search: "", brand: "", state: "" }));

  renderHeader();
  renderBrands();
  renderAll();
  document.body.dataset.ready = "true";
})();
