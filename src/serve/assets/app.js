// storyforge dashboard: progressive enhancement over server-rendered pages.
// Times shown in their account's zone (else the browser's), actions sent with the CSRF token,
// uploads, live template previews and the week view. No framework.
"use strict";
(() => {
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
  const csrf = $('meta[name="csrf-token"]')?.content || "";

  function toast(text) {
    const t = $("#toast");
    if (!t) return;
    t.textContent = text;
    t.classList.add("show");
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => t.classList.remove("show"), 5000);
  }

  async function api(method, url, body, type) {
    const headers = { "X-CSRF-Token": csrf };
    let data = body;
    if (body !== undefined && type === undefined) {
      headers["Content-Type"] = "application/json";
      data = JSON.stringify(body);
    } else if (type) {
      headers["Content-Type"] = type;
    }
    const res = await fetch(url, { method, headers, body: data, credentials: "same-origin" });
    let json = {};
    try { json = await res.json(); } catch (_) { /* not JSON */ }
    if (!res.ok) throw new Error(json.error || res.status + " " + res.statusText);
    return json;
  }

  // Times: in the zone of the account they belong to (`data-zone` on an
  // ancestor), else the browser's own.
  function localTimes(root = document) {
    for (const t of $$("time[data-local]", root)) {
      const d = new Date(t.getAttribute("datetime"));
      if (!isNaN(d)) {
        const zone = t.closest("[data-zone]")?.dataset.zone;
        const opts = { dateStyle: "medium", timeStyle: "short" };
        if (zone) opts.timeZone = zone;
        t.textContent = d.toLocaleString(undefined, opts) + (zone ? ` ${zone}` : "");
        t.title = d.toISOString();
      }
    }
  }
  localTimes();


  // Queue: reschedule, publish now, cancel.
  for (const form of $$("form.actions")) {
    const id = form.dataset.id;
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      // Read in the entry's account's zone, which the label names.
      const local = form.elements.at.value;
      if (!local) { toast("Pick a new date and time first."); return; }
      try {
        await api("POST", `/api/schedule/${id}/reschedule`, { local });
        toast(`#${id} rescheduled`);
        location.reload();
      } catch (err) { toast(`#${id}: ${err.message}`); }
    });
    for (const b of $$("button[data-action]", form)) {
      if (b.type === "submit") continue;
      b.addEventListener("click", async () => {
        const action = b.dataset.action;
        if (action === "cancel" && !confirm(`Cancel #${id}?`)) return;
        b.disabled = true;
        try {
          const r = await api("POST", `/api/schedule/${id}/${action}`);
          const first = (r.results || [])[0];
          toast(first ? `#${id}: ${first.state} ${first.result || ""}` : `#${id}: ${r.state || "done"}`);
          setTimeout(() => location.reload(), 800);
        } catch (err) { toast(`#${id}: ${err.message}`); b.disabled = false; }
      });
    }
  }

  // Queue: list or week view: seven days from today, each entry on its day
  // and at its time in its account's zone (named), as the list shows it.
  const week = $("#week");
  const formats = new Map();
  const dayOf = (d, zone) => {
    const k = zone || "";
    if (!formats.has(k)) {
      formats.set(k, new Intl.DateTimeFormat("en-CA", {
        timeZone: zone || undefined, year: "numeric", month: "2-digit", day: "2-digit",
      }));
    }
    return formats.get(k).format(d);
  };
  function buildWeek() {
    week.textContent = "";
    // Each entry's day and time in its account's zone, read once.
    const entries = [];
    for (const li of $$(".queue .item")) {
      const at = new Date(li.dataset.at);
      if (isNaN(at)) continue;
      const zone = li.dataset.zone;
      const time = at.toLocaleTimeString(undefined, { timeStyle: "short", timeZone: zone || undefined });
      entries.push({ day: dayOf(at, zone), text: `${time}${zone ? ` ${zone}` : ""} #${li.dataset.id} ${$(".src", li)?.textContent || ""}` });
    }
    const start = new Date(); start.setHours(12, 0, 0, 0);
    for (let i = 0; i < 7; i++) {
      const day = new Date(start); day.setDate(start.getDate() + i);
      const key = dayOf(day);
      const box = document.createElement("section");
      box.className = "day";
      box.dataset.day = key;
      const h = document.createElement("h4");
      h.textContent = day.toLocaleDateString(undefined, { weekday: "short", day: "numeric", month: "short" });
      box.append(h);
      const ul = document.createElement("ul");
      for (const e of entries.filter((e) => e.day === key)) {
        const item = document.createElement("li");
        item.textContent = e.text;
        ul.append(item);
      }
      box.append(ul);
      week.append(box);
    }
  }
  for (const b of $$("button[data-view]")) {
    b.addEventListener("click", () => {
      const weekly = b.dataset.view === "week";
      for (const o of $$("button[data-view]")) o.setAttribute("aria-pressed", String(o === b));
      for (const q of $$(".queue")) q.hidden = weekly;
      if (week) { week.hidden = !weekly; if (weekly) buildWeek(); }
    });
  }

  // Findings beside a preview.
  function showFindings(findings) {
    const ul = $("#findings");
    if (!ul) return;
    ul.textContent = "";
    if (!findings.length) {
      const li = document.createElement("li");
      li.className = "ok";
      li.textContent = "No findings: ready for Instagram.";
      ul.append(li);
    }
    for (const f of findings) {
      const li = document.createElement("li");
      li.className = f.rule.severity;
      li.textContent = `${f.rule.severity} ${f.rule.id} ${f.rule.name}: ${f.message} (${f.rule.hint})`;
      ul.append(li);
    }
  }

  // New from a file: drop or pick, fit, preview, findings.
  let draft = null;
  const uploadForm = $("#upload-form");
  if (uploadForm) {
    const drop = $("#drop");
    const input = $("#file");
    let picked = null;
    input.addEventListener("change", () => { picked = input.files[0] || null; });
    drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", (e) => {
      e.preventDefault(); drop.classList.remove("over");
      picked = e.dataTransfer.files[0] || null;
      if (picked) toast(`${picked.name} ready to upload`);
    });
    drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); } });
    uploadForm.addEventListener("submit", async (e) => {
      e.preventDefault();
      const file = picked || input.files[0];
      if (!file) { toast("Choose a file first."); return; }
      const f = uploadForm.elements;
      const q = new URLSearchParams({ name: file.name, fit: f.fit.value, fx: f.fx.value, fy: f.fy.value });
      $("#result").hidden = false;
      $("#status").textContent = `Uploading ${file.name}…`;
      $("#upload-btn").disabled = true;
      try {
        draft = await api("POST", "/api/upload?" + q, file, "application/octet-stream");
        await follow();
      } catch (err) {
        $("#status").textContent = err.message;
      } finally { $("#upload-btn").disabled = false; }
    });
  }

  async function follow() {
    const progress = $("#progress");
    while (draft && draft.status === "processing") {
      progress.hidden = false;
      progress.value = draft.percent;
      progress.textContent = draft.percent + " %";
      $("#status").textContent = `Transcoding ${draft.name}: ${draft.percent} %`;
      await new Promise((r) => setTimeout(r, 500));
      draft = await api("GET", `/api/draft/${draft.id}`);
    }
    progress.hidden = true;
    if (draft.status === "failed") { $("#status").textContent = draft.error; return; }
    $("#status").textContent = `Ready: ${draft.name} (${draft.kind}, ${draft.parts} Stor${draft.parts === 1 ? "y" : "ies"})`;
    const frame = $("#frame");
    frame.textContent = "";
    const media = document.createElement(draft.kind === "video" ? "video" : "img");
    media.src = `/draft/${draft.id}/0?t=${Date.now()}`;
    media.id = "preview-img";
    if (draft.kind === "video") { media.controls = true; media.muted = true; } else { media.alt = `Preview of ${draft.name}`; }
    const safe = document.createElement("div");
    safe.className = "safe"; safe.setAttribute("aria-hidden", "true");
    frame.append(media, safe);
    showFindings(draft.findings);
  }

  // New from a template: debounced live preview.
  const varsForm = $("#vars-form");
  let rowLoaded = null;
  function templateVars() {
    const vars = {};
    // Left empty, a field whose default is a pattern (shown as its
    // placeholder, e.g. {{today}}) takes that default.
    for (const t of $$("textarea[data-var]", varsForm)) {
      if (t.value !== "" || !t.placeholder) vars[t.dataset.var] = t.value;
    }
    return vars;
  }
  let timer = null, seq = 0;
  function previewBody() {
    const body = { template: varsForm.dataset.template, vars: templateVars() };
    if (rowLoaded) { body.feed = rowLoaded.feed; body.row = rowLoaded.row; }
    return body;
  }
  // A video template: the whole Story as a small clip, on request.
  const makeClip = $("#make-clip");
  if (makeClip) {
    makeClip.addEventListener("click", async () => {
      const status = $("#clip-status"), video = $("#preview-clip");
      status.textContent = "Making the clip…";
      makeClip.disabled = true;
      try {
        const r = await api("POST", "/api/preview-clip", previewBody());
        video.src = `/preview-clip/${r.id}`;
        video.dataset.clip = r.id;
        video.hidden = false;
        status.textContent = "Clip up to date";
      } catch (err) {
        video.hidden = true;
        status.textContent = err.message;
      } finally { makeClip.disabled = false; }
    });
  }
  async function preview() {
    const mine = ++seq;
    $("#status").textContent = "Rendering…";
    try {
      const body = previewBody();
      const posterAt = $("#poster-at");
      if (posterAt) body.at = Number(posterAt.value) || 0;
      const r = await api("POST", "/api/preview", body);
      if (mine !== seq) return;
      const img = $("#preview-img");
      if (r.id) { img.src = `/preview/${r.id}`; img.dataset.preview = r.id; }
      $("#status").textContent = r.id ? "Preview up to date" : "Cannot render with these values";
      showFindings(r.findings);
    } catch (err) { $("#status").textContent = err.message; }
  }
  if (varsForm) {
    varsForm.addEventListener("input", (e) => {
      if (e.target.dataset.var) rowLoaded = null;
      clearTimeout(timer);
      timer = setTimeout(preview, 250);
    });
    $("#load-row").addEventListener("click", async () => {
      const feed = $("#feed").value.trim(), row = $("#row").value;
      if (!feed) { toast("Give a feed file first."); return; }
      try {
        const r = await api("GET", `/api/feed-row?${new URLSearchParams({ feed, row })}`);
        for (const t of $$("textarea[data-var]", varsForm)) {
          if (t.dataset.var in r.vars) t.value = r.vars[t.dataset.var];
        }
        rowLoaded = { feed, row: Number(row) };
        preview();
      } catch (err) { toast(err.message); }
    });
    preview();
  }

  // Schedule or publish what this page made.
  const scheduleForm = $("#schedule-form");
  if (scheduleForm) {
    // Times are read in the chosen account's zone, which the label names.
    const accountSelect = scheduleForm.elements.account;
    const zoneOf = () => {
      const o = accountSelect && accountSelect.selectedOptions[0];
      return (o && o.dataset.zone) || "UTC";
    };
    const inZone = (d, zone) => {
      const f = new Intl.DateTimeFormat("sv-SE", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
      return f.format(d).replace(" ", "T");
    };
    const showZone = () => {
      $("#at-zone").textContent = zoneOf();
      scheduleForm.elements.at.value = inZone(new Date(Date.now() + 3600e3), zoneOf());
    };
    if (accountSelect) accountSelect.addEventListener("change", showZone);
    showZone();
    scheduleForm.addEventListener("submit", async (e) => {
      e.preventDefault();
      const publishNow = e.submitter && e.submitter.dataset.now === "1";
      const body = { account: scheduleForm.elements.account.value, now: publishNow };
      if (!publishNow) {
        body.local = scheduleForm.elements.at.value;
        if (!body.local) { toast("Pick a date and time."); return; }
      }
      if (varsForm) {
        body.template = varsForm.dataset.template;
        if (rowLoaded) { body.feed = rowLoaded.feed; body.row = rowLoaded.row; } else { body.vars = templateVars(); }
      } else if (draft && draft.status === "ready") {
        body.draft = draft.id;
      } else { toast("Upload a file first."); return; }
      const buttons = $$("button", scheduleForm);
      for (const b of buttons) b.disabled = true;
      try {
        const r = await api("POST", "/api/schedule", body);
        if (publishNow) {
          toast(r.results.map((x) => `#${x.id}: ${x.state} ${x.result}`).join("; "));
          $("#status").textContent = r.results.map((x) => `#${x.id}: ${x.state} — ${x.result}`).join("; ");
        } else {
          toast(`Scheduled #${r.ids.join(", #")}`);
          $("#status").textContent = `Scheduled #${r.ids.join(", #")} for ${inZone(new Date(r.at), zoneOf()).replace("T", " ")} ${zoneOf()} (${r.at})`;
        }
      } catch (err) { toast(err.message); $("#status").textContent = err.message; }
      finally { for (const b of buttons) b.disabled = false; }
    });
  }

  // Recent: collect insights now.
  const collect = $("#collect");
  if (collect) {
    collect.addEventListener("click", async () => {
      collect.disabled = true;
      try {
        const r = await api("POST", "/api/insights/collect");
        toast(`${r.collected} collected, ${r.no_data_yet} with no data yet${r.errors.length ? "; " + r.errors.join("; ") : ""}`);
        setTimeout(() => location.reload(), 600);
      } catch (err) { toast(err.message); collect.disabled = false; }
    });
  }
})();
