// The new-deal form's customer field: as you type, ask the server which customers you may see
// match (GET data-suggest-url?q=…), offer them in a list (arrow keys, Enter, or a click), and on
// a choice fill the hidden customer_id, preselect that customer's last currency (unless you
// chose one yourself) and move on to the amount. Without this script the typed name is looked
// up when the form is sent.
(function () {
  "use strict";

  function attach(input) {
    var form = input.form;
    var list = document.getElementById(input.getAttribute("aria-controls"));
    var hidden = form.querySelector("input[type=hidden][name=customer_id]");
    var currency = form.querySelector("select[name=currency]");
    var amount = form.querySelector("input[name=amount]");
    var currencyTouched = false;
    var timer = null;
    var asked = null;
    var active = -1;
    if (!list || !hidden) { return; }

    if (currency) {
      currency.addEventListener("change", function () { currencyTouched = true; });
    }

    function options() { return list.querySelectorAll("[role=option]"); }

    function hide() {
      list.hidden = true;
      list.textContent = "";
      active = -1;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
    }

    function highlight(index) {
      var all = options();
      if (!all.length) { return; }
      active = (index + all.length) % all.length;
      Array.prototype.forEach.call(all, function (option, i) {
        option.setAttribute("aria-selected", i === active ? "true" : "false");
      });
      input.setAttribute("aria-activedescendant", all[active].id);
      all[active].scrollIntoView({block: "nearest"});
    }

    function choose(option) {
      input.value = option.dataset.name;
      hidden.value = option.dataset.id;
      if (currency && !currencyTouched && option.dataset.currency) {
        currency.value = option.dataset.currency;
      }
      hide();
      input.setCustomValidity("");
      if (amount) { amount.focus(); }
    }

    function show(customers) {
      list.textContent = "";
      active = -1;
      customers.forEach(function (customer, i) {
        var option = document.createElement("li");
        var number = document.createElement("span");
        option.id = list.id + "-" + i;
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", "false");
        option.dataset.id = customer.id;
        option.dataset.name = customer.name;
        option.dataset.currency = customer.currency || "";
        option.textContent = customer.name + " ";
        number.className = "muted";
        number.textContent = "#" + customer.id;
        option.appendChild(number);
        option.addEventListener("mousedown", function (event) {
          event.preventDefault();  // keep the focus in the field until the choice is made
          choose(option);
        });
        list.appendChild(option);
      });
      list.hidden = customers.length === 0;
      input.setAttribute("aria-expanded", customers.length ? "true" : "false");
    }

    input.addEventListener("input", function () {
      var text = input.value.trim();
      hidden.value = "";  // a name typed over a choice is a new search
      clearTimeout(timer);
      if (!text) { hide(); return; }
      timer = setTimeout(function () {
        asked = text;
        fetch(input.dataset.suggestUrl + "?q=" + encodeURIComponent(text), {
          credentials: "same-origin", headers: {"Accept": "application/json"}
        }).then(function (response) {
          return response.ok ? response.json() : [];
        }).then(function (customers) {
          if (asked === text && input.value.trim() === text) { show(customers); }
        }).catch(hide);
      }, 150);
    });

    input.addEventListener("keydown", function (event) {
      if (list.hidden) { return; }
      if (event.key === "ArrowDown") { event.preventDefault(); highlight(active + 1); }
      else if (event.key === "ArrowUp") { event.preventDefault(); highlight(active - 1); }
      else if (event.key === "Enter" && active >= 0) {
        event.preventDefault();
        choose(options()[active]);
      } else if (event.key === "Escape") { hide(); }
    });

    input.addEventListener("blur", function () { setTimeout(hide, 150); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("input[data-suggest-url]"), attach);
  });
}());
