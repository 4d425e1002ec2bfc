// Agent pages: the header dropdown in place, its live timer, heartbeat, activity, idle warning,
// "still working?" and updates made elsewhere (a supervisor's approval). Without this script
// the dropdown is a plain form and everything else is shown on the next page load.
(function () {
  "use strict";
  const form = document.getElementById("status-form");
  if (!form) return;
  const csrf = form.querySelector("[name=csrfmiddlewaretoken]").value;
  const timer = document.getElementById("status-timer");
  const stateUrl = form.dataset.stateUrl;
  const $ = (id) => document.getElementById(id);
  // Words the script writes come translated from the page (data-*), English when missing.
  function text(el, key, fallback) {
    return (el && el.dataset[key]) || fallback;
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin", body: body || new FormData(),
      headers: { "X-CSRFToken": csrf, "Accept": "application/json" },
    });
  }

  function duration(seconds) {
    const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    return (h ? h + "h " : "") + (h || m ? m + "m " : "") + s + "s";
  }
  function tick() {
    const since = Date.parse(timer.dataset.since);
    timer.textContent = duration(Math.max(0, Math.floor((Date.now() - since) / 1000)));
  }

  // Where messages go: the agent pages' #flash, or a message list above the admin's content.
  function flashBox() {
    let box = $("flash");
    if (!box) {
      box = document.createElement("div");
      box.id = "flash";
      const main = document.getElementById("content") || document.body;
      main.parentNode.insertBefore(box, main);
    }
    return box;
  }
  function flash(text, isError) {
    const box = flashBox();
    box.innerHTML = "";
    const li = document.createElement("li");
    li.textContent = text;
    li.className = isError ? "error" : "success";
    const ul = document.createElement("ul");
    ul.className = "messages messagelist";
    ul.appendChild(li);
    box.appendChild(ul);
  }

  function show(state) {
    // state: {status, name, emoji, color, since, pending_status, requested_status}
    $("status-swatch").style.background = state.color;
    $("status-name").textContent = (state.emoji ? state.emoji + " " : "") + state.name;
    if (timer.dataset.since !== state.since) { timer.dataset.since = state.since; tick(); }
    // A status the system set (On a call, After call work, Kicked out) is shown, not offered.
    const select = $("status-select");
    const offered = [...select.options].some((o) => o.value === String(state.status) && !o.disabled);
    let current = document.getElementById("status-current");
    if (!offered && !current) {
      current = new Option("", "", true, true);
      current.id = "status-current";
      current.disabled = true;
      select.prepend(current);
    }
    if (current) current.hidden = offered;
    if (offered) select.value = String(state.status);
    else { current.textContent = (state.emoji ? state.emoji + " " : "") + state.name; current.selected = true; }
    const wrapUp = $("wrap-up-form");
    if (wrapUp) wrapUp.hidden = !state.wrap_up;
    $("status-note").textContent = state.note || "";  // written by the server, in the page's language
    const banner = $("finishing-banner");
    if (banner) {
      banner.hidden = !state.pending_status;
      const target = $("finishing-target");
      if (target) target.textContent = state.pending_status || "";
    }
  }

  function submitStatus(data) {
    post(form.action, data).then((r) => r.json().then((body) => {
      // The coverage alarm (C7): a switch that leaves one of my teams short asks first. It
      // warns, it does not block: yes sends the same pick again with confirm.
      if (r.status === 409 && body.confirm) {
        if (window.confirm(body.confirm)) { data.set("confirm", "true"); submitStatus(data); }
        else refresh();  // the dropdown goes back to the status I am in
        return;
      }
      flash(body.message, !r.ok);
      if (body.presence) show(body.presence);
      refresh();  // a queue-group status changes my queues
    })).catch(() => form.submit());
  }
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    submitStatus(new FormData(form));
  });
  $("status-select").addEventListener("change", () => form.requestSubmit());

  // Poll my state: approvals, expiry, finishing done and the warnings show without a reload.
  const idleBanner = $("idle-banner"), promptBanner = $("still-working-banner");
  const panelSettings = document.getElementById("panel-settings");
  const warnLead = Number((panelSettings && panelSettings.dataset.idleWarningSeconds) || 60);
  let idleAt = null;
  function refresh() {
    fetch(stateUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
      .then((state) => {
        show(state);
        idleAt = state.idle_logout_at ? Date.parse(state.idle_logout_at) : null;
        if (promptBanner) promptBanner.hidden = !state.still_working_asked_at;
        if (state.notices) showNotices(state.notices);
        if (state.queues) showQueues(state.queues);
      })
      .catch((status) => { if (status === 401 || status === 403) window.location.assign("/accounts/login/?next=/"); });
  }
  function idleCheck() {
    if (!idleBanner) return;
    if (idleAt === null) { idleBanner.hidden = true; return; }
    const left = Math.floor((idleAt - Date.now()) / 1000);
    idleBanner.hidden = left > warnLead;
    $("idle-seconds").textContent = String(Math.max(0, left));
    if (left <= 0) window.location.assign("/accounts/login/?next=/");
  }

  // Notices (P11): the banners follow the state, newest first; Dismiss works in place.
  const notices = $("notices");
  function noticeBanner(notice) {
    const banner = document.createElement("div");
    banner.className = "banner notice";
    banner.dataset.notice = String(notice.id);
    banner.dataset.kind = notice.kind;
    const text = document.createElement("span");
    text.className = "notice-text";
    text.textContent = notice.text;
    const dismiss = document.createElement("form");
    dismiss.method = "post";
    dismiss.style.display = "inline";
    dismiss.action = notices.dataset.dismissUrl.replace("/0/", "/" + notice.id + "/");
    dismiss.innerHTML = '<input type="hidden" name="csrfmiddlewaretoken"><button type="submit" class="notice-dismiss"></button>';
    dismiss.querySelector("button").textContent = text(notices, "dismissLabel", "Dismiss");
    dismiss.querySelector("input").value = csrf;
    banner.append(text, " ", dismiss);
    return banner;
  }
  function showNotices(list) {
    if (!notices) return;
    const wanted = new Set(list.map((notice) => String(notice.id)));
    notices.querySelectorAll("[data-notice]").forEach((el) => { if (!wanted.has(el.dataset.notice)) el.remove(); });
    list.forEach((notice) => {
      notices.appendChild(notices.querySelector('[data-notice="' + notice.id + '"]') || noticeBanner(notice));
    });
  }
  if (notices) notices.addEventListener("submit", (event) => {
    event.preventDefault();
    const banner = event.target.closest("[data-notice]");
    post(event.target.action).then((r) => { if (r.ok || r.status === 404) banner.remove(); });
  });

  // My queues (P10): a queue left or joined elsewhere (a queue-group status) shows here at once.
  const queues = $("my-queues");
  function showQueues(list) {
    if (!queues) return;
    list.forEach((queue) => {
      const row = queues.querySelector('tr[data-team="' + queue.team + '"]');
      const className = queue.active ? "queue-joined" : "queue-left";
      if (!row || row.className === className) return;
      const form = row.querySelector("form"), button = form.querySelector("button");
      const label = row.querySelector(".availability");
      row.className = className;
      form.action = form.action.replace(queue.active ? /\/join\/$/ : /\/leave\/$/, queue.active ? "/leave/" : "/join/");
      button.className = queue.active ? "queue-leave" : "queue-join";
      button.textContent = queue.active ? text(queues, "leaveLabel", "Leave") : text(queues, "joinLabel", "Join");
      label.className = "availability " + (queue.active ? "free" : "busy");
      if (queue.active) label.textContent = text(queues, "joinedLabel", "in the queue");
      else {
        const strong = document.createElement("strong");
        strong.textContent = text(queues, "leftLabel", "left");
        label.replaceChildren(strong, ": " + text(queues, "leftNote", "no work from this queue"));
      }
    });
  }

  // Activity: what the person does on the page, reported at most once a minute.
  let lastActivity = 0;
  function activity() {
    if (Date.now() - lastActivity < 60000) return;
    lastActivity = Date.now();
    post("/api/v1/presence/me/activity/").then(refresh);
  }
  ["keydown", "mousedown", "touchstart"].forEach((e) => document.addEventListener(e, activity, { passive: true }));
  const stay = $("idle-stay");
  if (stay) stay.addEventListener("click", () => { lastActivity = 0; activity(); });
  const yes = $("still-working-yes");
  if (yes) yes.addEventListener("click", (event) => {
    event.preventDefault();
    post(yes.form.action).then(() => { promptBanner.hidden = true; });
  });

  tick();
  setInterval(tick, 1000);
  setInterval(idleCheck, 1000);
  post("/api/v1/presence/me/heartbeat/");
  setInterval(() => post("/api/v1/presence/me/heartbeat/"), 30000);
  setInterval(refresh, Number(document.body.dataset.pollMs || 5000));
  refresh();
})();
