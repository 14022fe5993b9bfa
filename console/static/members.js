// 会员管理: a typed confirmation (data-must-type) starts with its button disabled when scripts
// run; console.js enables it once the expected text is typed. Without scripts the server checks.
"use strict";

document.querySelectorAll("input[data-must-type]").forEach((input) => {
  const button = input.form && input.form.querySelector("button[type=submit]");
  if (button) button.disabled = input.value.trim() !== input.getAttribute("data-must-type");
});
