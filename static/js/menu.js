// The header's menus, each a button whose aria-expanded is the state the CSS reads: the main menu
// (collapsed behind "Menu" on narrow screens) and the Settings group (a menu of its own on wider
// ones). Click, Enter or Space opens and closes one; Escape closes it (focus back on its button),
// and so do a click elsewhere and, for a group, Tab moving out of it. Loaded in <head>, not
// deferred, so that the page is marked scripted before it is first drawn: without script the
// CSS leaves every menu open.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function disclosure(toggle, closeWhenLeft) {
    var panel = document.getElementById(toggle.getAttribute("aria-controls"));
    if (!panel) return;

    function isOpen() {
      return toggle.getAttribute("aria-expanded") === "true";
    }

    function setOpen(open) {
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    }

    function inside(node) {
      return !!node && (toggle.contains(node) || panel.contains(node));
    }

    toggle.addEventListener("click", function () {
      setOpen(!isOpen());
    });
    document.addEventListener("keydown", function (event) {
      if (event.key !== "Escape" || !isOpen()) return;
      var focused = document.activeElement;
      setOpen(false);
      if (inside(focused) || focused === document.body) toggle.focus();
    });
    document.addEventListener("click", function (event) {
      if (isOpen() && !inside(event.target)) setOpen(false);
    });
    if (closeWhenLeft) {
      toggle.parentNode.addEventListener("focusout", function (event) {
        if (isOpen() && event.relatedTarget && !inside(event.relatedTarget)) setOpen(false);
      });
    }
  }

  function setUp() {
    var main = document.getElementById("nav-toggle");
    if (main) disclosure(main, false);
    var groups = document.querySelectorAll(".nav-group-toggle[aria-controls]");
    for (var i = 0; i < groups.length; i++) disclosure(groups[i], true);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
