// The supervisor board refreshes its rows in place every few seconds (no full reload).
(function () {
  "use strict";
  const table = document.getElementById("board");
  const body = document.getElementById("board-rows");
  if (!table || !body) return;
  function refresh() {
    fetch(table.dataset.rowsUrl, { credentials: "same-origin" })
      .then((r) => (r.ok ? r.text() : Promise.reject(r.status)))
      .then((html) => {
        body.innerHTML = html;
        const bell = document.getElementById("bell");
        const waiting = body.querySelectorAll("button.approve").length;
        if (bell) { bell.hidden = waiting === 0; bell.textContent = "🔔 " + waiting; }
      })
      .catch(() => {});
  }
  setInterval(refresh, Number(document.body.dataset.pollMs || 5000));
})();
