// Experiments list (find by name) and runs table (selection -> compare, filter error position,
// column chooser). Every control also works as a plain GET form without this script.
"use strict";
(function () {
  const MAX_COMPARE = 50;

  function findExperiments() {
    const box = document.getElementById("experiment-search");
    const table = document.getElementById("experiments");
    if (!box || !table) return;
    box.addEventListener("input", () => {
      const needle = box.value.trim().toLowerCase();
      let shown = 0;
      for (const row of table.tBodies[0].rows) {
        const hit = !needle || row.dataset.name.includes(needle);
        row.hidden = !hit;
        if (hit) shown += 1;
      }
      document.getElementById("experiments-none").hidden = shown > 0;
    });
  }

  function pointAtFilterError() {
    const input = document.getElementById("filter");
    if (!input || input.dataset.errorPosition === undefined) return;
    const at = Math.min(Number(input.dataset.errorPosition), input.value.length);
    input.focus();
    input.setSelectionRange(at, Math.min(at + 1, input.value.length));
  }

  function compareSelection() {
    const form = document.getElementById("compare-form");
    if (!form) return;
    const button = document.getElementById("compare-button");
    const count = document.getElementById("compare-count");
    const boxes = () => Array.from(document.querySelectorAll("input[name=runs][form=compare-form]"));
    const picked = () => boxes().filter((b) => b.checked).map((b) => b.value);
    const update = () => {
      const n = picked().length;
      button.disabled = n < 2 || n > MAX_COMPARE;
      count.textContent = n === 0 ? "Select 2 to 50 runs to compare."
        : n + " selected" + (n < 2 ? ": select one more" : n > MAX_COMPARE ? ": at most 50" : "");
      for (const box of boxes()) box.closest("tr").classList.toggle("picked", box.checked);
    };
    document.addEventListener("change", (event) => {
      if (event.target.id === "select-all") {
        for (const box of boxes()) box.checked = event.target.checked;
      }
      update();
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const runs = picked();
      if (runs.length < 2 || runs.length > MAX_COMPARE) return;
      window.location.href = form.action + "?runs=" + runs.map(encodeURIComponent).join(",");
    });
    update();
  }

  function columnChooser() {
    const chooser = document.getElementById("column-chooser");
    if (!chooser) return;
    const search = chooser.querySelector(".column-search");
    search.addEventListener("input", () => {
      const needle = search.value.trim().toLowerCase();
      for (const option of chooser.querySelectorAll(".column-option")) {
        option.hidden = needle !== "" && !option.textContent.toLowerCase().includes(needle);
      }
    });
    chooser.querySelector("[data-columns=none]").addEventListener("click", () => {
      for (const box of chooser.querySelectorAll("input[type=checkbox]")) box.checked = false;
    });
    document.addEventListener("click", (event) => {
      if (chooser.open && !chooser.contains(event.target)) chooser.open = false;
    });
  }

  findExperiments();
  pointAtFilterError();
  compareSelection();
  columnChooser();
})();
