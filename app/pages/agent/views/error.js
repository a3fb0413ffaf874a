// error.js: the last error, in words, until the next action succeeds or the
// person dismisses it with a click.

export function mountError(root, shift) {
  const el = root.querySelector("[data-testid=error]");
  el.title = "Click to dismiss";
  el.addEventListener("click", () => shift.error(""));
  return (state) => {
    el.textContent = state.error;
    el.hidden = !state.error;
  };
}
