// api.js: the REST client of the pages. One bearer token, JSON in and out,
// and every failure turned into an ApiError whose message is a sentence a
// person can read (never raw JSON).

const BASE = "/api/v1";
// Items per page when a whole list is fetched.
const PAGE_LIMIT = 500;

// What a status means to a person when the problem's own detail is missing.
const STATUS_SENTENCES = {
  400: "The request was not understood.",
  401: "The token was not accepted. Check it and sign in again.",
  403: "This token is not allowed to do that.",
  404: "That no longer exists.",
  409: "That cannot be done right now.",
  413: "That is too large to send.",
  422: "Some of the values were refused.",
  429: "Too many requests in a short time. Wait a moment and try again.",
  500: "The server failed. Try again; tell your supervisor if it keeps failing.",
  503: "The telephony service is unavailable for now. Try again in a moment.",
};

export class ApiError extends Error {
  // status: the HTTP status, or 0 when the server could not be reached.
  // fields: {field: sentence} from a problem's `errors`, for forms.
  constructor(message, status, fields = {}, retryAfter = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.fields = fields;
    this.retryAfter = retryAfter;
  }
}

function sentence(text) {
  const s = String(text).trim();
  if (!s) return s;
  const first = s[0].toUpperCase() + s.slice(1);
  return /[.!?]$/.test(first) ? first : first + ".";
}

// Builds the sentence for a failed response from its problem+json body:
// the detail, then each refused field ("Notes: too long."). A page's own
// sentence for the status, when it has one, is said instead.
function problemSentence(status, problem, own) {
  if (own[status]) return own[status];
  const parts = [];
  if (problem && typeof problem.detail === "string" && problem.detail)
    parts.push(sentence(problem.detail));
  else if (problem && typeof problem.title === "string" && problem.title)
    parts.push(sentence(problem.title));
  else parts.push(STATUS_SENTENCES[status] || `The server answered with an error (${status}).`);
  for (const e of (problem && Array.isArray(problem.errors) && problem.errors) || [])
    if (e && e.detail) parts.push(sentence(`${e.field ? e.field.replace(/_/g, " ") + ": " : ""}${e.detail}`));
  return parts.join(" ");
}

async function readProblem(response) {
  const type = response.headers.get("content-type") || "";
  if (!type.includes("json")) return null;
  try {
    return await response.json();
  } catch {
    return null;
  }
}

export class Api {
  // sentences: {status: sentence}, what a status means on this page (e.g.
  // which token it needs), said instead of the server's own words.
  constructor(token, { sentences = {} } = {}) {
    this.token = token;
    this.sentences = sentences;
  }

  // Sends one request; resolves with the parsed JSON body (null for 204),
  // rejects with an ApiError.
  async request(method, path, body) {
    const headers = { Authorization: `Bearer ${this.token}`, Accept: "application/json" };
    const init = { method, headers, cache: "no-store" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(BASE + path, init);
    } catch {
      throw new ApiError("The server could not be reached. Check the network connection.", 0);
    }
    if (response.ok) return response.status === 204 ? null : response.json();
    const problem = await readProblem(response);
    const fields = {};
    for (const e of (problem && Array.isArray(problem.errors) && problem.errors) || [])
      if (e && e.field) fields[e.field] = sentence(e.detail);
    const retry = Number(response.headers.get("retry-after")) || null;
    throw new ApiError(problemSentence(response.status, problem, this.sentences), response.status, fields, retry);
  }

  get(path) {
    return this.request("GET", path);
  }

  post(path, body) {
    return this.request("POST", path, body);
  }

  // Every item of a paged list, following next_cursor.
  async list(path) {
    const items = [];
    let cursor = null;
    do {
      const sep = path.includes("?") ? "&" : "?";
      const page = await this.get(`${path}${sep}limit=${PAGE_LIMIT}` +
        (cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""));
      items.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor);
    return items;
  }

  // The feed's WebSocket URL on the same host as the page.
  eventsUrl(since) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const q = new URLSearchParams({ access_token: this.token });
    if (since !== null && since !== undefined) q.set("since", String(since));
    return `${scheme}//${location.host}${BASE}/events?${q}`;
  }

  me() {
    return this.get("/me");
  }

  agent(id) {
    return this.get(`/agents/${id}`);
  }

  setState(id, state, reason) {
    return this.post(`/agents/${id}/state`, reason ? { state, reason } : { state });
  }

  webrtc(id) {
    return this.get(`/agents/${id}/webrtc`);
  }

  calls() {
    return this.get("/calls?limit=500");
  }

  call(id) {
    return this.get(`/calls/${encodeURIComponent(id)}`);
  }

  // localRingback: the page plays the ringback itself while the customer
  // rings (see shift.js), and the server sends none to its phone.
  placeCall(agentId, campaignId, leadId, localRingback) {
    return this.post("/calls", { agent_id: agentId, campaign_id: campaignId, lead_id: leadId, local_ringback: !!localRingback });
  }

  dispose(callId, disposition) {
    return this.post(`/calls/${encodeURIComponent(callId)}/disposition`, disposition);
  }

  dispositions(campaignId) {
    return this.get(`/campaigns/${campaignId}/dispositions?limit=500`);
  }

  leads(params = {}) {
    const q = new URLSearchParams({ limit: "500" });
    for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined) q.set(k, String(v));
    return this.get(`/leads?${q}`);
  }
}
