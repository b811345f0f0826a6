// Stock adjust forms: show the stock an amount would leave before Apply (the reason sets the
// direction: sale and damage subtract, delivery and return add, count sets it). The server
// decides; this is only a preview. (static/js/confirm.js asks before a data-confirm form is sent.)
(function () {
  "use strict";
  var SUBTRACT = { sale: true, damage: true };

  function preview(form) {
    var output = form.querySelector("output.stock-after");
    var amount = form.querySelector("input[name=amount]");
    var reason = form.querySelector("select[name=reason]");
    if (!output || !amount || !reason) return;
    var place = form.querySelector("select[name=location_id]"); // the stock of the place chosen
    var stock = parseInt(place ? place.options[place.selectedIndex].getAttribute("data-stock")
      : form.getAttribute("data-stock"), 10);
    var value = amount.value.trim();
    if (!/^\d+$/.test(value) || isNaN(stock)) {
      output.textContent = "";
      return;
    }
    var n = parseInt(value, 10);
    var after = reason.value === "count" ? n : SUBTRACT[reason.value] ? stock - n : stock + n;
    output.textContent = "→ " + after;
    output.classList.toggle("negative", after < 0);
    output.title = "Stock after: " + after;
  }

  document.querySelectorAll("form.adjust-form").forEach(function (form) {
    form.addEventListener("input", function () { preview(form); });
    form.addEventListener("change", function () { preview(form); });
    preview(form);
  });
})();
