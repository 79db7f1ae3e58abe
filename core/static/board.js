// The pipeline board as a kanban. Who may edit deals drags a card to any column (SortableJS,
// vendored): the move is posted (the same form fields and CSRF token as the no-JavaScript
// button) to the board's move address and answered in place. Saved: the card stays, its
// version and button follow it, the columns' counts and sums are refreshed. Refused (a stage
// gate, a change made meanwhile): the card goes back where it was, with the reason on it. A
// lost column asks for the reason on the card first. The compact view switch is remembered
// by the server (a cookie), posted without leaving the page.
(function () {
  "use strict";

  function token() {
    var meta = document.querySelector("meta[name=csrf-token]");
    return meta ? meta.getAttribute("content") : "";
  }

  function post(url, fields) {
    var body = new FormData();
    Object.keys(fields).forEach(function (name) { body.append(name, fields[name]); });
    body.append("csrf_token", token());
    return fetch(url, {
      method: "POST", body: body, credentials: "same-origin",
      headers: {"Accept": "application/json", "X-CSRFToken": token()}
    });
  }

  function compactToggle(board) {
    var button = document.querySelector("[data-compact-toggle]");
    if (!button) { return; }
    var form = button.form;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var compact = !board.classList.contains("compact");
      board.classList.toggle("compact", compact);
      button.setAttribute("aria-pressed", compact ? "true" : "false");
      form.elements.compact.value = compact ? "0" : "1";  // what the next click asks
      post(form.action, {compact: compact ? "1" : "0"}).catch(function () {});
    });
  }

  function kanban(board) {
    var status = document.querySelector(".board-status");
    var lostTemplate = document.getElementById("lost-reason-form");
    var head = board.dataset.moveHead;
    var tail = board.dataset.moveTail;

    function say(text) { if (status) { status.textContent = text || ""; } }

    function clearRefusal(card) {
      var old = card.querySelector(".refusal");
      if (old) { old.parentNode.removeChild(old); }
    }

    function refuse(card, text) {
      clearRefusal(card);
      if (!text) { return; }
      var note = document.createElement("p");
      note.className = "refusal";
      note.setAttribute("role", "alert");
      note.textContent = text;
      card.appendChild(note);
    }

    function snapBack(card, from, index, text) {
      card.classList.remove("saving");
      card.removeAttribute("aria-busy");
      from.insertBefore(card, from.children[index] || null);
      refuse(card, text);
      emptyNotes();
    }

    function emptyNotes() {
      Array.prototype.forEach.call(board.querySelectorAll(".column"), function (column) {
        var note = column.querySelector(".empty");
        if (note) { note.hidden = !!column.querySelector(".card"); }
      });
    }

    // The card's one-click button belongs to its column's step: take the new column's, or
    // hide it where the column has none (won, lost); the version is the one just saved.
    function followColumn(card, list) {
      var button = card.querySelector("button[name=version]");
      if (!button) { return; }
      button.value = card.dataset.version;
      if (list.dataset.stepText) {
        button.hidden = false;
        button.title = list.dataset.stepTitle;
        button.textContent = list.dataset.stepText;
      } else {
        button.hidden = true;
      }
    }

    function totals(columns) {
      (columns || []).forEach(function (column) {
        var box = board.querySelector(".column[data-stage='" + column.stage_id + "'] .totals");
        if (!box) { return; }
        box.textContent = "";
        var count = document.createElement("strong");
        count.className = "count";
        count.textContent = column.count;
        box.appendChild(count);
        column.sums.forEach(function (line) {
          var sum = document.createElement("span");
          sum.className = "sum";
          sum.textContent = line;
          box.appendChild(document.createElement("br"));
          box.appendChild(sum);
        });
      });
    }

    function send(card, from, index, to, reason) {
      var fields = {stage_id: to.closest(".column").dataset.stage, version: card.dataset.version};
      if (reason) { fields.lost_reason = reason; }
      card.classList.add("saving");
      card.setAttribute("aria-busy", "true");
      say(board.dataset.textSaving);
      post(head + card.dataset.deal + tail, fields).then(function (response) {
        return response.json().catch(function () { return {ok: false}; });
      }).then(function (answer) {
        if (answer.ok) {
          card.classList.remove("saving");
          card.removeAttribute("aria-busy");
          card.dataset.version = answer.version;
          followColumn(card, to);
          totals(answer.columns);
          emptyNotes();
          say(answer.message);
        } else if (answer.code === "lost_reason") {
          card.classList.remove("saving");
          askReason(card, from, index, to, answer.message);
        } else {
          say("");
          snapBack(card, from, index, answer.message || board.dataset.textFailed);
        }
      }).catch(function () {
        say("");
        snapBack(card, from, index, board.dataset.textFailed);
      });
    }

    function askReason(card, from, index, to, text) {
      if (!lostTemplate || card.querySelector(".lost-reason")) { return; }
      var form = lostTemplate.content.firstElementChild.cloneNode(true);
      var input = form.querySelector("input[name=lost_reason]");
      refuse(card, text);
      card.appendChild(form);
      input.focus();
      function cancel() {
        form.parentNode.removeChild(form);
        say("");
        snapBack(card, from, index, "");
      }
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        var reason = input.value.trim();
        if (!reason) { input.focus(); return; }
        form.parentNode.removeChild(form);
        clearRefusal(card);
        send(card, from, index, to, reason);
      });
      form.querySelector("[data-cancel]").addEventListener("click", cancel);
      input.addEventListener("keydown", function (event) {
        if (event.key === "Escape") { event.preventDefault(); cancel(); }
      });
    }

    Array.prototype.forEach.call(board.querySelectorAll(".cards"), function (list) {
      window.Sortable.create(list, {
        group: "board",
        draggable: ".card",
        sort: false,               // a column is newest first: only moves between columns mean something
        filter: "button, input, .lost-reason",
        preventOnFilter: false,
        forceFallback: true,       // mouse, pen and touch alike, and no native drag image
        fallbackTolerance: 4,      // a click on the title stays a click
        delay: 150,
        delayOnTouchOnly: true,    // on a phone a swipe scrolls; a press and hold drags
        animation: 120,
        scroll: true,
        bubbleScroll: true,
        onStart: function (event) { clearRefusal(event.item); },
        onEnd: function (event) {
          var card = event.item;
          if (event.to === event.from) { return; }
          var column = event.to.closest(".column");
          if (column && column.dataset.kind === "lost") {
            askReason(card, event.from, event.oldIndex, event.to, "");
          } else {
            send(card, event.from, event.oldIndex, event.to, "");
          }
          emptyNotes();
        }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var board = document.querySelector(".board");
    if (!board) { return; }
    compactToggle(board);
    if (board.hasAttribute("data-movable") && window.Sortable) { kanban(board); }
  });
}());
