// @mention suggestions for the discussion text boxes: as you type "@na", ask the server which
// colleagues who may see the record match, and offer them in the list under the box.
(function () {
  "use strict";
  var MENTION = /(^|[^\w@.+-])@([\w.-]{0,80})$/;

  function wordBeforeCaret(box) {
    var match = MENTION.exec(box.value.slice(0, box.selectionStart));
    return match ? match[2] : null;
  }

  function insert(box, username) {
    var caret = box.selectionStart;
    var before = box.value.slice(0, caret).replace(/@[\w.-]*$/, "@" + username + " ");
    box.value = before + box.value.slice(caret);
    box.selectionStart = box.selectionEnd = before.length;
    box.focus();
  }

  function attach(box) {
    var list = box.parentNode.querySelector(".mention-suggestions");
    var timer = null;
    var asked = null;
    if (!list) { return; }

    function hide() { list.hidden = true; list.textContent = ""; }

    function show(people) {
      list.textContent = "";
      people.forEach(function (person) {
        var item = document.createElement("li");
        var button = document.createElement("button");
        button.type = "button";
        button.textContent = "@" + person.username + (person.label !== person.username ? " · " + person.label : "");
        button.addEventListener("mousedown", function (event) {
          event.preventDefault();
          insert(box, person.username);
          hide();
        });
        item.appendChild(button);
        list.appendChild(item);
      });
      list.hidden = people.length === 0;
    }

    box.addEventListener("input", function () {
      var word = wordBeforeCaret(box);
      clearTimeout(timer);
      if (word === null) { hide(); return; }
      timer = setTimeout(function () {
        asked = word;
        fetch(box.dataset.mentionsUrl + "?q=" + encodeURIComponent(word), {
          credentials: "same-origin", headers: {"Accept": "application/json"}
        }).then(function (response) {
          return response.ok ? response.json() : [];
        }).then(function (people) {
          if (asked === word) { show(people); }
        }).catch(hide);
      }, 150);
    });
    box.addEventListener("blur", function () { setTimeout(hide, 150); });
    box.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { hide(); }
    });
  }

  document.querySelectorAll("textarea.mention-input[data-mentions-url]").forEach(attach);
})();
