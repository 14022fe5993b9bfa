// Set-up pages: parts of a form that only apply to some choices (a coupon's kind, a tier
// benefit's kind, fixed or relative validity) are shown only for those choices.
// `data-show-when="kind=cash discount"` shows an element while the form's control `kind` has
// one of those values. Without this script every part stays visible and the server ignores
// what does not apply.
"use strict";

function currentValue(form, name) {
  const control = form.elements.namedItem(name);
  if (!control) return "";
  if (control instanceof RadioNodeList) return control.value;
  if (control.type === "checkbox") return control.checked ? control.value : "";
  return control.value;
}

function showWhatApplies(root) {
  for (const element of root.querySelectorAll("[data-show-when]")) {
    const form = element.closest("form");
    if (!form) continue;
    const [name, choices] = element.getAttribute("data-show-when").split("=");
    element.hidden = !choices.split(" ").includes(currentValue(form, name));
  }
}

document.addEventListener("change", () => showWhatApplies(document));
document.addEventListener("htmx:afterSettle", () => showWhatApplies(document));
showWhatApplies(document);
