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

/**
 * The URL a backup's status is read from: `statusUrl` from `POST /backup` (a path with the
 * stage, `/prod/backups/<id>`, or a full URL) resolved against the API URL's origin. Null when
 * it leads to another origin (the API key is never sent anywhere but the API) or is not a URL.
 */
export function resolveStatusUrl(apiUrl, statusUrl) {
  const base = normalizeApiUrl(apiUrl);
  if (!base || typeof statusUrl !== 'string' || !statusUrl.trim()) return null;
  let url;
  try {
    url = new URL(statusUrl.trim(), new URL(base).origin);
  } catch {
    return null;
  }
  if (url.origin !== new URL(base).origin || url.username || url.password) return null;
  url.hash = '';
  return url.href;
}

/** The backup statuses the page knows; anything else is shown as it came. */
export const BACKUP_STATUSES = ['running', 'succeeded', 'failed'];

function isBackupView(value) {
  return Boolean(value) && typeof value === 'object' && !Array.isArray(value) && typeof value.backupId === 'string' && value.backupId !== '' && typeof value.status === 'string';
}

/** Waits `ms`, or rejects with an AbortError as soon as `signal` aborts. */
export function sleep(ms, signal) {
  return new Promise((resolveSleep, rejectSleep) => {
    const abortError = () => (signal && signal.reason instanceof Error ? signal.reason : new DOMException('The wait was aborted.', 'AbortError'));
    if (signal && signal.aborted) {
      rejectSleep(abortError());
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      rejectSleep(abortError());
    };
    const timer = setTimeout(() => {
      if (signal) signal.removeEventListener('abort', onAbort);
      resolveSleep();
    }, ms);
    if (signal) signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** A throttled call that is worth repeating later (not the day's quota, which stays spent). */
function isThrottled(error) {
  return error instanceof ApiError && error.kind === 'http' && error.status === 429 && !/limit exceeded/i.test(error.serverMessage);
}

/** A failure that may pass by itself: the network, or the service's 5xx. */
function isTransient(error) {
  return error instanceof ApiError && (error.kind === 'network' || (error.kind === 'http' && error.status >= 500));
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

  /** `path` is below the API URL (`/students?…`), or a full URL already checked to be the API's. */
  async function request(method, path, { body, signal } = {}) {
    const url = path instanceof URL ? path.href : `${base}${path}`;
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

  async function backupStatus(statusUrl, { signal } = {}) {
    const href = resolveStatusUrl(base, statusUrl);
    if (!href) throw new ApiError('bad-response', `the status URL ${statusUrl} is not on the API's origin`, { apiUrl: base });
    const { json } = await request('GET', new URL(href), { signal });
    if (!isBackupView(json)) throw new ApiError('bad-response', 'the backup status has no backupId or status', { apiUrl: base });
    return json;
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

    /**
     * Starts a backup. The service answers within its wait (20 s by default) with either the
     * finished backup's report (200): `{ done: true, report }`; or, while it still runs (or
     * when another backup was already running), 202: `{ done: false, backupId, statusUrl }`
     * with `statusUrl` resolved to a full URL on the API's origin.
     */
    async backup({ signal } = {}) {
      const { json, headers, status } = await request('POST', '/backup', { signal });
      if (!json || typeof json !== 'object' || Array.isArray(json)) {
        throw new ApiError('bad-response', 'the backup answer is not an object', { status, apiUrl: base });
      }
      if (status !== 202) return { done: true, report: json };
      const backupId = typeof json.backupId === 'string' ? json.backupId : '';
      if (!backupId) throw new ApiError('bad-response', 'the 202 answer names no backupId', { status, apiUrl: base });
      const raw = typeof json.statusUrl === 'string' && json.statusUrl ? json.statusUrl : headers.get('Location');
      const statusUrl = raw ? resolveStatusUrl(base, raw) : `${base}/backups/${encodeURIComponent(backupId)}`;
      if (!statusUrl) {
        throw new ApiError('bad-response', `the statusUrl ${raw} is not on the API's origin`, { status, apiUrl: base });
      }
      return { done: false, backupId, statusUrl };
    },

    /** The status URL of a backup by its id (when no statusUrl came with it). */
    statusUrlFor(backupId) {
      return `${base}/backups/${encodeURIComponent(backupId)}`;
    },

    /** One backup's status (`GET /backups/{backupId}`), from a URL `resolveStatusUrl` accepts. */
    backupStatus,

    /**
     * One page of the backups, newest first (`GET /backups`): `{ items, nextCursor }`, where
     * `nextCursor` (from X-Next-Cursor) is null on the last page.
     */
    async backups({ limit = 10, cursor = null, signal } = {}) {
      const query = new URLSearchParams({ limit: String(limit) });
      if (cursor) query.set('cursor', cursor);
      const { json, headers } = await request('GET', `/backups?${query}`, { signal });
      if (!Array.isArray(json)) throw new ApiError('bad-response', 'the backup list is not an array', { apiUrl: base });
      return { items: json.filter(isBackupView), nextCursor: headers.get('X-Next-Cursor') || null };
    },

    /**
     * Reads a backup's status every `intervalMs` until it is no longer running, or until
     * `timeoutMs` have passed; resolves to the last status read (still `running` when the time
     * ran out, null when none could be read). `onUpdate(view)` sees every status read, and
     * `onRetry({ error, delayMs })` every failed read that will be tried again: a 429 throttle
     * always (after `throttledMs`), the network or a 5xx up to `maxErrors` times in a row (with
     * a growing pause). Any other failure (403, 404, the day's quota…) rejects at once.
     */
    async followBackup(
      statusUrl,
      {
        intervalMs = 2000,
        throttledMs = 5000,
        timeoutMs = 15 * 60 * 1000,
        maxErrors = 5,
        signal,
        onUpdate = () => {},
        onRetry = () => {},
        wait = sleep,
        now = () => Date.now(),
      } = {},
    ) {
      const deadline = now() + timeoutMs;
      let delay = intervalMs;
      let errors = 0;
      let last = null;
      while (now() + delay <= deadline) {
        await wait(delay, signal);
        let view;
        try {
          view = await backupStatus(statusUrl, { signal });
        } catch (error) {
          if (error && error.name === 'AbortError') throw error;
          if (isThrottled(error)) {
            delay = throttledMs;
          } else if (isTransient(error) && errors + 1 < maxErrors) {
            errors += 1;
            delay = Math.min(intervalMs * 2 ** errors, 30_000);
          } else {
            throw error;
          }
          onRetry({ error, delayMs: delay });
          continue;
        }
        errors = 0;
        delay = intervalMs;
        last = view;
        onUpdate(view);
        if (view.status !== 'running') return view;
      }
      return last;
    },
  };
}
