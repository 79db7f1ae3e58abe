/* Suggestions under the header's search box (core/templates/_search_box.html).
   Progressive enhancement: without this file the box is a GET form to the results page.
   Reads /search/suggest?q=… (JSON, grouped by kind); arrows move, Enter opens, Escape closes. */
(function () {
  "use strict";
  var form = document.querySelector("form.search-box");
  if (!form || !window.fetch) { return; }
  var input = form.querySelector("input[name=q]");
  var list = form.querySelector(".search-suggestions");
  var timer = null, controller = null, active = -1;

  function links() { return list.querySelectorAll("a"); }

  function close() {
    list.hidden = true;
    list.textContent = "";
    input.setAttribute("aria-expanded", "false");
    active = -1;
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text) { node.textContent = text; }
    return node;
  }

  function show(data) {
    list.textContent = "";
    active = -1;
    if (!data.groups.length) {
      list.appendChild(el("p", "muted", form.dataset.empty));
    }
    data.groups.forEach(function (group) {
      list.appendChild(el("p", "search-kind", group.label));
      group.hits.forEach(function (hit) {
        var a = el("a", "search-option");
        a.href = hit.url;
        a.setAttribute("role", "option");
        a.appendChild(el("span", "search-title", hit.title));
        var extra = [hit.detail].concat(hit.phones, hit.emails).filter(Boolean).join(" · ");
        if (extra) { a.appendChild(el("span", "muted", extra)); }
        list.appendChild(a);
      });
    });
    var all = el("a", "search-all", form.dataset.all + " →");
    all.href = form.action + "?q=" + encodeURIComponent(input.value.trim());
    list.appendChild(all);
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
  }

  function ask() {
    var q = input.value.trim();
    if (q.length < 2) { close(); return; }
    if (controller) { controller.abort(); }
    controller = window.AbortController ? new AbortController() : null;
    fetch(form.dataset.suggest + "?q=" + encodeURIComponent(q),
          {credentials: "same-origin", headers: {"Accept": "application/json"},
           signal: controller ? controller.signal : undefined})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data && input.value.trim() === q) { show(data); } else if (!data) { close(); } })
      .catch(function () { /* aborted or offline: the form still works */ });
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(ask, 180);
  });
  input.addEventListener("keydown", function (event) {
    var items = links();
    if (event.key === "Escape") { close(); return; }
    if (list.hidden || !items.length) { return; }
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      active = (active + (event.key === "ArrowDown" ? 1 : -1) + items.length) % items.length;
      items.forEach(function (a, i) { a.classList.toggle("active", i === active); });
      input.setAttribute("aria-activedescendant", "");
    } else if (event.key === "Enter" && active >= 0) {
      event.preventDefault();
      window.location.href = items[active].href;
    }
  });
  list.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { close(); input.focus(); }
  });
  document.addEventListener("click", function (event) {
    if (!form.contains(event.target)) { close(); }
  });
})();
