// api.js: the admin API over fetch, with the token as a bearer. Failures
// become Errors whose message is a sentence a person can act on.

const BASE = '/api/v1';
const PAGE_LIMIT = 500;

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function words(status, problem) {
  const detail = problem && problem.detail ? problem.detail : '';
  const fields = problem && Array.isArray(problem.errors)
    ? problem.errors.map((e) => `${e.field}: ${e.detail}`).join('; ') : '';
  const said = [detail, fields].filter(Boolean).join(' (') + (fields && detail ? ')' : '');
  switch (status) {
    case 401: return 'The token was refused: sign in again with a valid supervisor token.';
    case 403: return 'This token may not do that: the wallboard needs a supervisor or admin token.';
    case 429: return 'The server asks to slow down; try again in a moment.';
    case 503: return 'The telephony server is not ready (Asterisk or the database is down).';
    default: return said || `The server answered ${status}.`;
  }
}

export function createApi(token) {
  async function request(method, path, body) {
    const init = { method, headers: { Authorization: `Bearer ${token}` } };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(BASE + path, init);
    } catch (e) {
      throw new ApiError(0, 'The server cannot be reached; check the network.');
    }
    const type = resp.headers.get('content-type') || '';
    const data = type.includes('json') ? await resp.json().catch(() => null) : null;
    if (!resp.ok) throw new ApiError(resp.status, words(resp.status, data));
    return data;
  }

  // Every item of a paged list.
  async function list(path) {
    const items = [];
    let cursor = null;
    do {
      const sep = path.includes('?') ? '&' : '?';
      const page = await request('GET', `${path}${sep}limit=${PAGE_LIMIT}` +
        (cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''));
      items.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor);
    return items;
  }

  return {
    token,
    get: (path) => request('GET', path),
    post: (path, body) => request('POST', path, body),
    list,
  };
}
