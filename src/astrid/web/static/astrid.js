// AstrID web page helpers: keyboard shortcuts for the label buttons, cutout zoom and marks.
// Plain script, no build step; htmx (vendored) does the requests.
"use strict";

// Whether a key pressed in `target` belongs to it: text fields take every key, the zoom
// slider its arrow keys; a checkbox (the "marks" box) takes none of the shortcuts.
function typing(target, key) {
  if (target instanceof HTMLInputElement) {
    if (target.type === "checkbox") return false;
    if (target.type === "range") return key.startsWith("Arrow");
    return true;
  }
  return Boolean(target.closest("textarea, select, [contenteditable]"));
}

// A key press clicks the visible button whose data-key matches (review mode and the
// candidate page). Typing in a field, modifier keys and auto-repeat never label.
document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
  const target = event.target;
  if (target instanceof Element && typing(target, event.key)) return;
  const scope = document.getElementById("review-card") || document.getElementById("label-history");
  if (!scope) return;
  const button = scope.querySelector(`button[data-key="${CSS.escape(event.key)}"]`);
  if (button && !button.disabled) {
    event.preventDefault();
    button.click();
  }
});

// The zoom slider scales the three cutouts of a triplet together (pixels stay square).
document.addEventListener("input", (event) => {
  const slider = event.target;
  if (!(slider instanceof HTMLInputElement) || !slider.matches("[data-zoom]")) return;
  const controls = slider.closest(".cutout-controls");
  const group = controls && controls.previousElementSibling;
  if (!group) return;
  for (const img of group.querySelectorAll("img.cutout-img")) {
    img.style.width = `${252 * Number(slider.value)}px`;
    img.style.height = "auto";
  }
});

// Clicking a cutout toggles a 2x zoom of the triplet.
document.addEventListener("click", (event) => {
  const img = event.target;
  if (!(img instanceof HTMLImageElement) || !img.matches("img.cutout-img")) return;
  const group = img.closest("[data-zoom-group]");
  const slider = group && group.nextElementSibling && group.nextElementSibling.querySelector("[data-zoom]");
  if (!slider) return;
  slider.value = Number(slider.value) > 1 ? "1" : "2";
  slider.dispatchEvent(new Event("input", { bubbles: true }));
});

// The label form only holds the comment (the label buttons post it): Enter in the comment
// must not submit it. A listener, not an onsubmit attribute: the CSP allows no inline code.
document.addEventListener("submit", (event) => {
  if (event.target instanceof HTMLFormElement && event.target.matches("form.label-form")) {
    event.preventDefault();
  }
});

// The "marks" checkbox shows or hides the crosshair, compass and scale bar of a triplet; the
// choice is remembered (this browser), so review mode keeps it from one card to the next.
const MARKS_KEY = "astrid.marks";

function applyMarks(root) {
  const hidden = localStorage.getItem(MARKS_KEY) === "off";
  for (const box of root.querySelectorAll("input[data-marks]")) {
    box.checked = !hidden;
    const controls = box.closest(".cutout-controls");
    const group = controls && controls.previousElementSibling;
    if (group) group.classList.toggle("no-marks", hidden);
  }
}

document.addEventListener("change", (event) => {
  const box = event.target;
  if (!(box instanceof HTMLInputElement) || !box.matches("[data-marks]")) return;
  localStorage.setItem(MARKS_KEY, box.checked ? "on" : "off");
  applyMarks(document);
});
document.addEventListener("DOMContentLoaded", () => applyMarks(document));
document.addEventListener("htmx:afterSwap", () => applyMarks(document));
