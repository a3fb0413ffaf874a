// disposition.js: the outcome of the call just ended (the campaign's codes,
// notes, a callback time), shown during after-call work.

import { fromLocalInput, toLocalInput } from "/common/format.js";

export function mountDisposition(root, shift) {
  const form = root.querySelector("[data-testid=disposition]");
  const code = form.querySelector("[data-testid=disposition-code]");
  const notes = form.querySelector("[data-testid=disposition-notes]");
  const callback = form.querySelector("[data-testid=disposition-callback]");
  const submit = form.querySelector("[data-testid=disposition-submit]");
  const about = form.querySelector("#wrap-call");
  const errors = {
    code: form.querySelector("#disposition-code-error"),
    notes: form.querySelector("#disposition-notes-error"),
    callback_at: form.querySelector("#disposition-callback-error"),
  };
  let shownFor = null; // the wrap-up whose call the fields belong to
  let shownCodes; // the code list the select was filled from (undefined: none)
  let shownErrors = null;

  const isCallback = () => {
    const opt = code.selectedOptions[0];
    return !!opt && opt.dataset.callback === "true";
  };
  code.addEventListener("change", () => {
    callback.required = isCallback();
    if (isCallback() && !callback.value) {
      const d = new Date(Date.now() + 3600 * 1000);
      d.setMinutes(0);
      callback.value = toLocalInput(d);
    }
  });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    for (const el of Object.values(errors)) el.textContent = "";
    if (!code.value) {
      errors.code.textContent = "Choose the outcome of the call.";
      return;
    }
    if (isCallback() && !callback.value) {
      errors.callback_at.textContent = "Give the time to call back.";
      return;
    }
    shift.submitDisposition({ code: code.value, notes: notes.value.trim(), callbackAt: fromLocalInput(callback.value) });
  });

  // Keeps the person's choice when the list is refreshed under them.
  const fillCodes = (codes) => {
    const chosen = code.value;
    code.replaceChildren(new Option(codes.length ? "Choose…" : "No outcomes are set up for this campaign", ""));
    for (const d of codes) {
      const opt = new Option(d.label, d.code);
      opt.dataset.callback = String(!!d.is_callback);
      code.append(opt);
    }
    if (codes.some((d) => d.code === chosen)) code.value = chosen;
  };

  return (state) => {
    const w = state.wrapup;
    form.hidden = !w;
    if (!w) {
      shownFor = null;
      return;
    }
    if (shownFor !== w.callId) {
      shownFor = w.callId;
      shownCodes = undefined;
      code.replaceChildren();
      notes.value = "";
      callback.value = "";
      callback.required = false;
    }
    if (w.codes !== shownCodes) {
      shownCodes = w.codes;
      if (w.codes) fillCodes(w.codes);
      else code.replaceChildren(new Option("Loading outcomes…", ""));
    }
    about.textContent = [w.number, `campaign ${w.campaignId}`].filter(Boolean).join(" · ");
    // Only when they change: the form's own checks write there too.
    if (w.fieldErrors !== shownErrors) {
      shownErrors = w.fieldErrors;
      for (const [field, el] of Object.entries(errors)) el.textContent = (w.fieldErrors && w.fieldErrors[field]) || "";
    }
    submit.disabled = w.submitting || !w.codes;
    submit.textContent = w.submitting ? "Saving…" : "Save outcome";
  };
}
