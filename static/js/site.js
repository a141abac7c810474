// On every page: remember the viewer's time zone (the server renders times in it from the
// next page on: web/middleware.py), and wire the few behaviours plain HTML lacks.

const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
if (zone && !document.cookie.split("; ").includes(`tz=${encodeURIComponent(zone)}`)) {
  document.cookie = `tz=${encodeURIComponent(zone)}; path=/; max-age=31536000; SameSite=Lax`;
}

// <button data-fill="#id" data-value="500">: puts a value in a field (amount presets).
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-fill]");
  if (!button) return;
  const field = document.querySelector(button.dataset.fill);
  if (field) {
    field.value = button.dataset.value;
    field.focus();
  }
});

// <form data-confirm="...">: asks before a step that cannot be undone.
document.addEventListener("submit", (event) => {
  const message = event.target.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});

// <form method="get" data-clean-query>: leaves empty fields out of the address, so a
// filtered list reads /consultants/?category=legal&online=on and can be shared.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!form.matches("form[data-clean-query]") || event.defaultPrevented) return;
  for (const field of form.elements) {
    if (field.name && field.value === "" && !field.disabled) {
      field.disabled = true;
      setTimeout(() => (field.disabled = false));
    }
  }
});
