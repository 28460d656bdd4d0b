// A small client for the student-records API, and the words a person sees when a call fails.

/** A failed call: `kind` is 'network' (fetch threw), 'http' (an error status) or 'bad-response'. */
export class ApiError extends Error {
  constructor(kind, message, { status = 0, serverMessage = '', errors = [], url = '', apiUrl = '' } = {}) {
    super(message);
    this.name = 'ApiError';
    this.kind = kind;
    this.status = status;
    this.serverMessage = serverMessage;
    this.errors = errors;
    this.url = url;
    this.apiUrl = apiUrl;
  }
}

/** The API URL without trailing slashes, or null when it is not an http(s) URL. */
export function normalizeApiUrl(raw) {
  const text = String(raw ?? '').trim().replace(/\/+$/, '');
  if (!text) return null;
  let url;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  if (url.search || url.hash || url.username || url.password) return null;
  return text;
}

/** The message a person reads for a failed call. Never a bare status code. */
export function describeError(error) {
  if (!(error instanceof ApiError)) {
    if (error && error.name === 'AbortError') return 'The request was cancelled.';
    return `Something went wrong in the page: ${error && error.message ? error.message : String(error)}`;
  }
  const { kind, status, serverMessage, apiUrl } = error;
  if (kind === 'network') {
    return `The API cannot be reached at ${apiUrl}. Check the API URL in Settings.`;
  }
  if (kind === 'bad-response') {
    return `The answer from ${apiUrl} is not what this page expects. Check the API URL in Settings.`;
  }
  if (status === 403) {
    if (/missing authentication token/i.test(serverMessage)) {
      return `The API URL ${apiUrl} does not lead to the student-records API (unknown route). Check the API URL in Settings.`;
    }
    return 'The API key is missing or not valid. Check it in Settings.';
  }
  if (status === 429) {
    if (/limit exceeded/i.test(serverMessage)) {
      return 'The daily request quota for this key is used up. Try again tomorrow (UTC).';
    }
    return 'Too many requests — try again in a moment.';
  }
  if (status === 413) return 'The student is too large to send (the limit is 16 KiB).';
  if (status === 404) {
    return `The API URL ${apiUrl} does not lead to the student-records API. Check the API URL in Settings.`;
  }
  if (status >= 500) return 'The service had a problem. Try again.';
  if (serverMessage) return `The service refused the request: ${serverMessage}`;
  return `The service refused the request (HTTP status ${status}).`;
}

async function readBody(response) {
  const text = await response.text();
  if (!text) return { json: null, isJson: false };
  try {
    return { json: JSON.parse(text), isJson: true };
  } catch {
    return { json: null, isJson: false };
  }
}

export function createClient({ apiUrl, apiKey, fetchImpl = (...args) => globalThis.fetch(...args) }) {
  const base = normalizeApiUrl(apiUrl);

  async function request(method, path, { body, signal } = {}) {
    const url = `${base}${path}`;
    const headers = { 'x-api-key': apiKey, Accept: 'application/json' };
    const init = { method, headers, signal, cache: 'no-store', credentials: 'omit' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetchImpl(url, init);
    } catch (cause) {
      if (cause && cause.name === 'AbortError') throw cause;
      throw new ApiError('network', `fetch ${url} failed: ${cause && cause.message}`, { url, apiUrl: base });
    }
    let parsed;
    try {
      parsed = await readBody(response);
    } catch (cause) {
      if (cause && cause.name === 'AbortError') throw cause;
      throw new ApiError('network', `reading ${url} failed: ${cause && cause.message}`, { url, apiUrl: base });
    }
    const { json, isJson } = parsed;
    if (!response.ok) {
      const serverMessage = json && typeof json.message === 'string' ? json.message : '';
      const errors = json && Array.isArray(json.errors) ? json.errors : [];
      throw new ApiError('http', `${method} ${url}: ${response.status} ${serverMessage}`, {
        status: response.status,
        serverMessage,
        errors,
        url,
        apiUrl: base,
      });
    }
    if (!isJson) {
      throw new ApiError('bad-response', `${method} ${url}: the body is not JSON`, {
        status: response.status,
        url,
        apiUrl: base,
      });
    }
    return { json, headers: response.headers, status: response.status };
  }

  return {
    apiUrl: base,

    /**
     * Every student, page by page, following X-Next-Cursor until it is absent.
     * Yields each page's array.
     */
    async *studentPages({ limit = 1000, signal } = {}) {
      const seen = new Set();
      let cursor = null;
      for (;;) {
        const query = new URLSearchParams({ limit: String(limit) });
        if (cursor) query.set('cursor', cursor);
        const { json, headers } = await request('GET', `/students?${query}`, { signal });
        if (!Array.isArray(json)) {
          throw new ApiError('bad-response', 'the student list is not an array', { apiUrl: base });
        }
        yield json;
        cursor = headers.get('X-Next-Cursor');
        if (!cursor) return;
        if (seen.has(cursor)) {
          throw new ApiError('bad-response', `the cursor ${cursor} came back twice`, { apiUrl: base });
        }
        seen.add(cursor);
      }
    },

    async addStudent(student, { signal } = {}) {
      const { json } = await request('POST', '/students', { body: student, signal });
      return json;
    },

    async backup({ signal } = {}) {
      const { json } = await request('POST', '/backup', { signal });
      return json;
    },
  };
}
