/* Crosspost calendar: drag a post chip onto another day (month view) or hour (week view) to move it.
   Plain HTML5 drag and drop; the drop is a POST through htmx and the answer is the calendar again,
   with the chip where the server put it (or back where it was, with the error). Without JS the
   chips are links to their posts. */
(function () {
  "use strict";
  let dragged = null;

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (error) {
      return "";
    }
  }

  function cellOf(event) {
    return dragged && event.target.closest ? event.target.closest("#calendar .cal-cell") : null;
  }

  function clearTargets() {
    document.querySelectorAll("#calendar .drop-target").forEach(function (cell) {
      cell.classList.remove("drop-target");
    });
  }

  document.addEventListener("dragstart", function (event) {
    const chip = event.target.closest ? event.target.closest("#calendar .chip[data-move-url]") : null;
    if (!chip) return;
    dragged = chip;
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", chip.getAttribute("data-post"));
    chip.classList.add("dragging");
  });

  document.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("dragging");
    dragged = null;
    clearTargets();
  });

  document.addEventListener("dragover", function (event) {
    const cell = cellOf(event);
    if (!cell) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    if (!cell.classList.contains("drop-target")) {
      clearTargets();
      cell.classList.add("drop-target");
    }
  });

  document.addEventListener("drop", function (event) {
    const cell = cellOf(event);
    if (!cell) return;
    event.preventDefault();
    const chip = dragged;
    const calendar = cell.closest("#calendar");
    const values = { date: cell.getAttribute("data-date") };
    if (cell.hasAttribute("data-hour")) values.hour = cell.getAttribute("data-hour");
    clearTargets();
    if (chip.parentElement === cell) return; // dropped where it was
    cell.appendChild(chip); // moves at once; the answer confirms it or puts it back
    chip.classList.add("moving");
    htmx.ajax("POST", chip.getAttribute("data-move-url") + "?" + calendar.getAttribute("data-query"), {
      source: cell,
      target: "#calendar",
      swap: "outerHTML",
      values: values,
      headers: { "X-CSRFToken": csrfToken() },
    });
  });
})();
