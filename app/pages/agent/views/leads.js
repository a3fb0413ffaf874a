// leads.js: the agent's leads, each with a button that places the call.

import { dateTime } from "/common/format.js";

export function mountLeads(root, shift) {
  const body = root.querySelector("#leads-body");
  const note = root.querySelector("#leads-note");
  root.querySelector("#leads-refresh").addEventListener("click", () => shift.loadLeads());
  body.addEventListener("click", (e) => {
    const button = e.target.closest("button[data-testid=lead-call]");
    if (button) shift.callLead(Number(button.dataset.leadId));
  });
  let shownItems = null;

  const row = (lead) => {
    const tr = document.createElement("tr");
    const cells = [
      lead.name || "—",
      lead.phone,
      lead.campaign_name || `Campaign ${lead.campaign_id}`,
      lead.status.replace(/_/g, " "),
      String(lead.attempts),
      lead.next_call_at ? dateTime(lead.next_call_at) : "",
    ];
    for (const text of cells) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
    }
    tr.children[1].className = "phone";
    const td = document.createElement("td");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "small";
    button.textContent = "Call";
    button.dataset.testid = "lead-call";
    button.dataset.leadId = String(lead.id);
    td.append(button);
    tr.append(td);
    return tr;
  };

  return (state) => {
    const { items, loading, loaded } = state.leads;
    if (items !== shownItems) {
      shownItems = items;
      body.replaceChildren(...items.map(row));
    }
    const a = state.agent;
    const canCall = !!a && a.state === "available" && !state.phoneCall && state.softphone === "registered";
    for (const b of body.querySelectorAll("button[data-testid=lead-call]")) {
      b.disabled = !canCall;
      b.title = canCall ? "Call this lead: your phone rings first, then the customer's" : "Be available, with the phone registered, to place calls";
    }
    note.textContent = loading && !loaded ? "Loading…" : loaded && !items.length ? "No leads for your campaigns." : "";
  };
}
