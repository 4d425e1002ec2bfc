// The supervisor board refreshes its rows in place every few seconds (no full reload).
(function () {
  "use strict";
  const table = document.getElementById("board");
  const body = document.getElementById("board-rows");
  if (!table || !body) return;
  const counts = document.getElementById("board-counts");
  const coverage = document.getElementById("coverage-alarms");
  function refresh() {
    fetch(table.dataset.rowsUrl, { credentials: "same-origin" })
      .then((r) => (r.ok ? r.text() : Promise.reject(r.status)))
      .then((html) => {
        body.innerHTML = html;
        // The rows come with the counts in a <template>: move them to the counts above.
        const next = body.querySelector("template#board-counts-next");
        if (next) { if (counts) counts.replaceChildren(next.content.cloneNode(true)); next.remove(); }
        // The coverage alarms (C7) come the same way: a team's red banner appears and clears.
        const alarms = body.querySelector("template#coverage-alarms-next");
        if (alarms) { if (coverage) coverage.replaceChildren(alarms.content.cloneNode(true)); alarms.remove(); }
        const bell = document.getElementById("bell");
        const marker = body.querySelector("tr[data-pending]");
        const waiting = marker ? Number(marker.dataset.pending) : 0;
        if (bell) { bell.hidden = waiting === 0; bell.textContent = "🔔 " + waiting; }
      })
      .catch(() => {});
  }
  setInterval(refresh, Number(document.body.dataset.pollMs || 5000));
})();
