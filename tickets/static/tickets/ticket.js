// The ticket page: the two timers tick like the header's, and the teammates listed under the note
// become buttons that insert @username (completing a name being typed). Without this script the
// timers show the time at page load and the list is plain text; every form posts as it is.
(function () {
  "use strict";

  function duration(seconds) {
    const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    return (h ? h + "h " : "") + (h || m ? m + "m " : "") + s + "s";
  }
  const timers = [...document.querySelectorAll("time.ticket-timer[data-since]")];
  function tick() {
    timers.forEach((timer) => {
      const since = Date.parse(timer.dataset.since);
      timer.textContent = duration(Math.max(0, Math.floor((Date.now() - since) / 1000)));
    });
  }
  if (timers.length) { tick(); setInterval(tick, 1000); }

  const body = document.getElementById("note-body");
  const mates = [...document.querySelectorAll("#mention-list li.teammate")];
  if (!body || !mates.length) return;
  const partial = /(^|[^\w@.])@([\w.@+-]*)$/;  // "@an" just before the cursor

  function typedPrefix() {
    const match = partial.exec(body.value.slice(0, body.selectionStart));
    return match ? match[2] : null;
  }
  function insert(username) {
    const at = body.selectionStart, before = body.value.slice(0, at), after = body.value.slice(body.selectionEnd);
    const prefix = typedPrefix();
    const head = prefix === null ? before + (before && !/\s$/.test(before) ? " " : "") + "@"
      : before.slice(0, before.length - prefix.length);
    const text = head + username + " ";
    body.value = text + after;
    body.focus();
    body.setSelectionRange(text.length, text.length);
    filter();
  }
  // While a name is being typed after "@", only the teammates it could be stay listed.
  function filter() {
    const prefix = (typedPrefix() || "").toLowerCase();
    mates.forEach((li) => { li.hidden = !li.dataset.username.toLowerCase().startsWith(prefix); });
  }
  mates.forEach((li) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "mention";
    button.dataset.username = li.dataset.username;
    button.innerHTML = li.innerHTML;
    button.addEventListener("click", () => insert(li.dataset.username));
    li.replaceChildren(button);
  });
  ["input", "click", "keyup"].forEach((e) => body.addEventListener(e, filter));
})();
