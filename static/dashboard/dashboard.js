/* Crosspost dashboard: small progressive enhancements. Every control also works without JS. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (error) {
      return "";
    }
  }

  // A select marked data-autosubmit submits its form on change (the language switcher).
  document.addEventListener("change", function (event) {
    if (event.target.matches("select[data-autosubmit]")) {
      event.target.form.submit();
    }
  });

  // "Select all" checkbox of a table.
  document.addEventListener("change", function (event) {
    const all = event.target.closest("input[data-select-all]");
    if (!all) return;
    const name = all.getAttribute("data-select-all");
    all.form.querySelectorAll('input[type=checkbox][name="' + name + '"]').forEach(function (box) {
      box.checked = all.checked;
    });
  });

  // Filter the options of a long <select multiple> by text, keeping the selected ones visible.
  document.addEventListener("input", function (event) {
    const input = event.target.closest("input[data-filter-select]");
    if (!input) return;
    const select = document.getElementById(input.getAttribute("data-filter-select"));
    const needle = input.value.trim().toLowerCase();
    Array.prototype.forEach.call(select.options, function (option) {
      option.hidden = needle !== "" && !option.selected && option.text.toLowerCase().indexOf(needle) === -1;
    });
  });

  // Carousel order: move or remove an item in place (without JS these buttons submit the form).
  document.addEventListener("click", function (event) {
    const button = event.target.closest("button[data-move]");
    if (!button) return;
    event.preventDefault();
    const item = button.closest("li");
    const move = button.getAttribute("data-move");
    if (move === "up" && item.previousElementSibling) {
      item.parentElement.insertBefore(item, item.previousElementSibling);
    } else if (move === "down" && item.nextElementSibling) {
      item.parentElement.insertBefore(item.nextElementSibling, item);
    } else if (move === "remove") {
      item.remove();
    }
  });

  function uploadFiles(zone, files) {
    const list = zone.closest("form").querySelector(".media-list");
    const errors = zone.querySelector(".upload-errors");
    const max = parseInt(zone.getAttribute("data-max") || "10", 10);
    const workspace = zone.closest("form").querySelector('[name="workspace"]');
    errors.innerHTML = "";
    let chain = Promise.resolve();
    Array.prototype.forEach.call(files, function (file) {
      chain = chain.then(function () {
        if (list.children.length >= max) {
          errors.textContent = zone.getAttribute("data-too-many");
          return null;
        }
        const body = new FormData();
        body.append("file", file);
        if (workspace) body.append("workspace", workspace.value);
        return fetch(zone.getAttribute("data-upload-url"), {
          method: "POST",
          body: body,
          headers: { "X-CSRFToken": csrfToken() },
          credentials: "same-origin",
        }).then(function (response) {
          return response.text().then(function (html) {
            if (response.ok) {
              const holder = document.createElement("template");
              holder.innerHTML = html.trim();
              const item = holder.content.firstElementChild;
              if (item && !list.querySelector('li[data-id="' + item.getAttribute("data-id") + '"]')) {
                list.appendChild(item);
              }
              return null;
            }
            errors.insertAdjacentHTML("beforeend", html || zone.getAttribute("data-failed"));
            return null;
          });
        }).catch(function () {
          errors.textContent = zone.getAttribute("data-failed");
        });
      });
    });
    return chain;
  }

  function setupDropzones(root) {
    root.querySelectorAll(".dropzone:not([data-ready])").forEach(function (zone) {
      zone.setAttribute("data-ready", "1");
      const input = zone.querySelector('input[type="file"]');
      input.addEventListener("change", function () {
        const files = Array.prototype.slice.call(input.files);
        uploadFiles(zone, files).then(function () {
          input.value = "";  // uploaded already: the form must not send the files again
        });
      });
      ["dragenter", "dragover"].forEach(function (name) {
        zone.addEventListener(name, function (event) {
          event.preventDefault();
          zone.classList.add("dragover");
        });
      });
      ["dragleave", "drop"].forEach(function (name) {
        zone.addEventListener(name, function () {
          zone.classList.remove("dragover");
        });
      });
      zone.addEventListener("drop", function (event) {
        event.preventDefault();
        uploadFiles(zone, event.dataTransfer.files);
      });
    });
  }

  // Answers htmx does not swap (403, 404, 500 …) and lost connections still say something.
  function flashError(text) {
    const flash = document.getElementById("flash");
    if (!flash || !text) return;
    const message = document.createElement("p");
    message.className = "message error";
    message.setAttribute("role", "alert");
    message.textContent = text;
    flash.appendChild(message);
  }
  document.addEventListener("htmx:responseError", function (event) {
    const xhr = event.detail.xhr;
    const status = xhr.status + (xhr.statusText ? " " + xhr.statusText : "");
    flashError((document.body.getAttribute("data-error-text") || "").replace("%(status)s", status));
  });
  document.addEventListener("htmx:sendError", function () {
    flashError(document.body.getAttribute("data-offline-text"));
  });

  if (window.htmx) {
    window.htmx.onLoad(setupDropzones);
  } else {
    document.addEventListener("DOMContentLoaded", function () {
      setupDropzones(document);
    });
  }
})();
