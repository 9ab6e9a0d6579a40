// The board refreshes by itself: fetch the rows fragment every few seconds and swap it in.
// Without JavaScript the page's <noscript> meta refresh reloads it instead.
(function () {
  "use strict";
  var board = document.getElementById("board");
  if (!board) { return; }
  var source = board.getAttribute("data-source");
  var every = Math.max(2, parseInt(board.getAttribute("data-every"), 10) || 5) * 1000;
  function refresh() {
    fetch(source, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (response.redirected || !response.ok) {
          window.location.reload();
          return null;
        }
        return response.text();
      })
      .then(function (html) {
        if (html !== null) { board.innerHTML = html; }
      })
      .catch(function () { /* try again at the next tick */ })
      .finally(function () { window.setTimeout(refresh, every); });
  }
  window.setTimeout(refresh, every);
})();
