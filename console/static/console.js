// userkit console: small progressive enhancements. Every page works
// without this file.
(function () {
  "use strict";

  // A query with a syntax error: put the cursor where the error is.
  var q = document.querySelector("input[data-error-offset]");
  if (q) {
    var off = parseInt(q.getAttribute("data-error-offset"), 10);
    // The offset counts UTF-8 bytes; the input counts UTF-16 units.
    var bytes = new TextEncoder().encode(q.value).slice(0, off);
    var pos = new TextDecoder().decode(bytes).length;
    q.focus();
    q.setSelectionRange(pos, pos);
  }

  // The activity page: add the events as they happen (a long poll).
  var list = document.getElementById("events");
  var status = document.getElementById("live-status");
  if (list && list.hasAttribute("data-poll") && !location.search.match(/[?&]after=/)) {
    var url = list.getAttribute("data-poll");
    var failures = 0;
    var poll = function () {
      fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then(function (resp) {
          if (!resp.ok) { throw new Error("status " + resp.status); }
          var next = resp.headers.get("X-Next-Cursor");
          return resp.text().then(function (html) {
            if (next) { url = url.replace(/after=[^&]*/, "after=" + encodeURIComponent(next)); }
            var doc = new DOMParser().parseFromString("<ol>" + html + "</ol>", "text/html");
            var items = doc.body.firstChild.children;
            // Oldest first from the server; the newest ends on top.
            for (var i = 0; i < items.length; i++) {
              list.insertBefore(document.importNode(items[i], true), list.firstChild);
            }
            failures = 0;
            if (status) { status.textContent = "Live: new events appear here as they happen."; }
            poll();
          });
        })
        .catch(function () {
          failures++;
          if (status) { status.textContent = "Live updates paused; retrying. Reload the page if this persists."; }
          setTimeout(poll, Math.min(30000, 1000 * Math.pow(2, failures)));
        });
    };
    poll();
  }
})();
