// The studio's forms, progressively enhanced (without JavaScript every field shows and works):
// a source form shows only the chosen kind's fields; a preset form lists only the chosen platform's accounts.
(function () {
  "use strict";

  function showKind(form) {
    var kind = form.querySelector("select[name=kind]");
    if (!kind) return;
    form.querySelectorAll("fieldset[data-kind]").forEach(function (set) {
      set.hidden = set.getAttribute("data-kind") !== kind.value;
    });
  }

  function showAccounts(form) {
    var platform = form.querySelector("select[name=platform]");
    var accounts = form.querySelector("select[name=accounts]");
    if (!platform || !accounts) return;
    accounts.querySelectorAll("option").forEach(function (option) {
      var other = option.getAttribute("data-platform") && option.getAttribute("data-platform") !== platform.value;
      option.hidden = Boolean(other);
      if (other) option.selected = false;
    });
  }

  function enhance() {
    document.querySelectorAll("form[data-studio-source]").forEach(function (form) {
      showKind(form);
      form.addEventListener("change", function (event) {
        if (event.target.name === "kind") showKind(form);
      });
    });
    document.querySelectorAll("form[data-studio-preset]").forEach(function (form) {
      showAccounts(form);
      form.addEventListener("change", function (event) {
        if (event.target.name === "platform") showAccounts(form);
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", enhance);
  } else {
    enhance();
  }
})();
