// The model page's actions: each form calls the REST API (which checks permissions), then the
// page reloads to show the change in the versions table and the history; a refusal is shown
// next to the form.
"use strict";
(function () {
  const page = document.getElementById("model-page");
  if (!page) return;
  const model = encodeURIComponent(page.dataset.model);
  const base = "/api/v1/registered-models/" + model;
  const comment = (form) => form.elements.comment.value.trim() || null;

  const requests = {
    "transition": (form) => ["POST", base + "/versions/" + form.elements.version.value + "/stage", {
      stage: form.elements.stage.value,
      archive_existing_versions: form.elements.archive.checked,
      comment: comment(form),
    }],
    "alias": (form) => {
      const alias = form.elements.alias.value.trim();
      if (!alias) throw new Error("Give the alias a name, such as champion.");
      return ["PUT", base + "/aliases/" + encodeURIComponent(alias), {
        version: Number(form.elements.version.value), comment: comment(form),
      }];
    },
    "model-description": (form) => ["PATCH", base, {
      description: form.elements.description.value, comment: comment(form),
    }],
    "version-description": (form) => ["PATCH", base + "/versions/" + form.elements.version.value, {
      description: form.elements.description.value, comment: comment(form),
    }],
  };

  function showError(form, message) {
    const box = form.querySelector(".form-error");
    box.textContent = message;
    box.hidden = !message;
  }

  async function submit(event) {
    event.preventDefault();
    const form = event.target;
    const button = form.querySelector("button[type=submit]");
    showError(form, "");
    button.disabled = true;
    try {
      const [method, path, body] = requests[form.dataset.action](form);
      await window.loopml.api(method, path, body);
      window.location.reload();
    } catch (error) {
      showError(form, error.message);
      button.disabled = false;
    }
  }

  for (const form of document.querySelectorAll("form.action-form[data-action]")) {
    form.addEventListener("submit", submit);
  }
  for (const toggle of document.querySelectorAll("[data-toggle]")) {
    toggle.addEventListener("click", () => {
      const target = document.getElementById(toggle.dataset.toggle);
      target.hidden = !target.hidden;
      if (!target.hidden) target.querySelector("textarea, input").focus();
    });
  }
  const picker = document.getElementById("version-description-version");
  if (picker) {
    picker.addEventListener("change", () => {
      const chosen = picker.options[picker.selectedIndex];
      document.getElementById("version-description-text").value = chosen.dataset.description || "";
    });
  }
})();
