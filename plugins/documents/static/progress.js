// Polls a bulk job's progress (documents/batch.html) and moves the bar; reloads when done.
(function () {
  var box = document.getElementById("batch");
  if (!box || box.getAttribute("data-finished") === "1") return;
  var url = box.getAttribute("data-progress-url");
  var bar = box.querySelector("[data-progress]");
  function poll() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.json(); })
      .then(function (p) {
        bar.max = p.total || 1;
        bar.value = p.done;
        if (p.finished) { window.location.reload(); } else { setTimeout(poll, 1000); }
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 1000);
})();
