// The console's own script: small behaviours that need no inline script (the CSP forbids it).
"use strict";

// A button or form with data-confirm asks first (e.g. deleting an account).
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

// A typed confirmation: the submit button stays disabled until the expected text is typed.
document.addEventListener("input", (event) => {
  const input = event.target;
  const expected = input.getAttribute("data-must-type");
  if (expected === null) return;
  const button = input.form && input.form.querySelector("button[type=submit]");
  if (button) button.disabled = input.value.trim() !== expected;
});
