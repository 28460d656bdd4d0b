// A stand-in for the student-records API, for the page's own tests only (ui.test.mjs): it
// follows the documented contract (pagination with X-Next-Cursor, 201/400/409/413, backup
// with a download link, 202 and the backup's status while it runs, the list of backups,
// API Gateway's 403/429 bodies, CORS) so the page can be exercised without the real stack.
// It is not the service: the browser tests in api.test.mjs run against the real stack.
//
// As a module:  const api = await startFakeApi({ key: 'k', students: [...] }); api.url → http://127.0.0.1:P/prod
// Standalone:   node web/tests/fake-api.mjs --port 4010 --key dev-key [--students 2500]
//                 [--backup-mode sync|async|fail] [--backup-polls 3]

import { createServer } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { FIELDS } from '../src/validate.js';
import { CASES } from './cases.mjs';

const HOST = '127.0.0.1';
const STAGE = '/prod';

/** The fields of a backup's view that stay null until known. */
const VIEW_NULLS = { finishedAt: null, count: null, bytes: null, sha256: null, key: null, downloadUrl: null, expiresAt: null };

const CORS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Headers': 'Content-Type,X-Api-Key',
  'Access-Control-Allow-Methods': 'GET,POST,OPTIONS',
  'Access-Control-Expose-Headers': 'X-Next-Cursor,Link',
};

/** Makes `count` students SV00001… with predictable values. */
export function makeStudents(count, prefix = 'SV') {
  const classes = ['10A1', '10A2', '11B1', '12C3'];
  return Array.from({ length: count }, (_, i) => ({
    studentid: `${prefix}${String(i + 1).padStart(5, '0')}`,
    name: `Student ${i + 1}`,
    class: classes[i % classes.length],
    birthdate: `20${String(i % 10).padStart(2, '0')}-0${(i % 9) + 1}-1${i % 10}`,
    email: `student${i + 1}@example.edu`,
  }));
}

/** A backup id as the service makes them: `backup-YYYYMMDD-HHMMSS-<8 hex>`. */
export function makeBackupId(date = new Date()) {
  const stamp = date.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `backup-${stamp}-${randomBytes(4).toString('hex')}`;
}

/**
 * options: key (required x-api-key), students (initial list), pageDelayMs (delay of each
 * list page after the first), rate/burst (token bucket, like the usage plan: 5/s, burst 10),
 * quota (requests before "Limit Exceeded"), failWith (status forced on every API call).
 * Emails at nomail.example are stored with emailSent false; at rejected.example get a 400.
 *
 * Backups: backupMode 'sync' (POST /backup answers 200 with the report, as within the
 * service's wait), 'async' (202; the status reads `running` backupPolls times, then
 * `succeeded`) or 'fail' (202, then `failed` with backupError). throttlePolls: that many status
 * reads answer 429 first. backups: catalog entries to start with (BackupView objects, newest
 * first; a `running` one may carry `polls` and `outcome`). listsBackups false: the routes
 * GET /backups and GET /backups/{id} do not exist (an API from before them). downloadOrigin:
 * where the download links point (default: this server, which serves them).
 */
export async function startFakeApi({
  port = 0,
  key = 'test-key',
  students = [],
  pageDelayMs = 0,
  rate = 5,
  burst = 10,
  quota = Infinity,
  failWith = null,
  backupMode = 'sync',
  backupPolls = 2,
  backupError = 'the backup could not be written: the bucket refused the upload (AccessDenied)',
  throttlePolls = 0,
  backups = [],
  listsBackups = true,
  downloadOrigin = null,
} = {}) {
  const table = new Map(students.map((s) => [s.studentid, { ...s }]));
  const downloads = new Map();
  const log = [];
  /** The catalog, newest first: { view, body, polls, outcome } per backup. */
  const catalog = backups.map(({ polls = backupPolls, outcome = 'succeeded', ...view }) => ({
    view: { backupId: view.backupId, status: view.status, startedAt: view.startedAt, ...VIEW_NULLS, ...view },
    body: null,
    polls,
    outcome,
  }));
  let throttledLeft = throttlePolls;
  let tokens = burst;
  let last = Date.now();
  let used = 0;

  function json(res, status, body, extra = {}) {
    const text = JSON.stringify(body);
    res.writeHead(status, { ...CORS, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...extra });
    res.end(text);
  }

  function gatewayError(res, status, message, type) {
    json(res, status, { message }, { 'x-amzn-ErrorType': type });
  }

  function takeToken() {
    const now = Date.now();
    tokens = Math.min(burst, tokens + ((now - last) / 1000) * rate);
    last = now;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  }

  function origin() {
    return `http://${HOST}:${server.address().port}`;
  }

  /** A fresh one-hour download link for a backup's body. */
  function downloadLink(body) {
    const token = randomBytes(12).toString('hex');
    downloads.set(token, body);
    return { downloadUrl: `${downloadOrigin ?? origin()}/download/${token}`, expiresAt: new Date(Date.now() + 3600_000).toISOString() };
  }

  /** Writes the students as a backup's body and fills in its view. */
  function finish(entry) {
    if (entry.outcome === 'failed') {
      Object.assign(entry.view, { status: 'failed', finishedAt: new Date().toISOString(), error: entry.error ?? backupError });
      return;
    }
    entry.body = Buffer.from(JSON.stringify([...table.values()]));
    Object.assign(entry.view, {
      status: 'succeeded',
      finishedAt: new Date().toISOString(),
      count: table.size,
      bytes: entry.body.length,
      sha256: createHash('sha256').update(entry.body).digest('hex'),
      key: `backups/${entry.view.backupId}.json`,
    });
  }

  /** The view as the API shows it: a succeeded backup gets a fresh link each time. */
  function show(entry) {
    const view = { ...entry.view };
    if (view.status === 'succeeded' && entry.body) Object.assign(view, downloadLink(entry.body));
    if (view.status !== 'failed') delete view.error;
    return view;
  }

  function startBackup(outcome, polls = backupPolls) {
    const backupId = makeBackupId();
    const entry = { view: { backupId, status: 'running', startedAt: new Date().toISOString(), ...VIEW_NULLS }, body: null, polls, outcome };
    catalog.unshift(entry);
    return entry;
  }

  async function readBody(req, limit) {
    const chunks = [];
    let size = 0;
    for await (const chunk of req) {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    }
    return { text: Buffer.concat(chunks).toString('utf8'), size };
  }

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', `http://${HOST}`);
    log.push({ method: req.method, path: url.pathname + url.search });

    if (req.method === 'GET' && url.pathname.startsWith('/download/')) {
      const body = downloads.get(url.pathname.slice('/download/'.length));
      if (!body) {
        res.writeHead(404, { 'Content-Type': 'application/xml' });
        res.end('<Error><Code>NoSuchKey</Code></Error>');
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': body.length });
      res.end(body);
      return;
    }
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { ...CORS, 'Access-Control-Max-Age': '600' });
      res.end();
      return;
    }
    const statusMatch = url.pathname.startsWith(`${STAGE}/backups/`) ? /^([^/]+)$/.exec(url.pathname.slice(`${STAGE}/backups/`.length)) : null;
    const route = req.method === 'GET' && statusMatch ? `GET ${STAGE}/backups/{backupId}` : `${req.method} ${url.pathname}`;
    const known = [`GET ${STAGE}/students`, `POST ${STAGE}/students`, `POST ${STAGE}/backup`];
    if (listsBackups) known.push(`GET ${STAGE}/backups`, `GET ${STAGE}/backups/{backupId}`);
    if (!known.includes(route)) return gatewayError(res, 403, 'Missing Authentication Token', 'MissingAuthenticationTokenException');
    if (req.headers['x-api-key'] !== key) return gatewayError(res, 403, 'Forbidden', 'ForbiddenException');
    if (used >= quota) return gatewayError(res, 429, 'Limit Exceeded', 'LimitExceededException');
    if (!takeToken()) return gatewayError(res, 429, 'Too Many Requests', 'TooManyRequestsException');
    used += 1;
    if (failWith === 502) return gatewayError(res, 502, 'Internal server error', 'InternalServerErrorException');
    if (failWith === 504) return json(res, 504, { message: 'Endpoint request timed out' });

    if (route === `GET ${STAGE}/students`) {
      const limit = url.searchParams.has('limit') ? Number(url.searchParams.get('limit')) : 100;
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) return json(res, 400, { message: 'limit must be 1 to 1000' });
      let start = 0;
      const cursor = url.searchParams.get('cursor');
      if (cursor !== null) {
        start = Number(Buffer.from(cursor, 'base64url').toString('utf8'));
        if (!Number.isInteger(start) || start < 0) return json(res, 400, { message: 'invalid cursor' });
        if (pageDelayMs) await new Promise((r) => setTimeout(r, pageDelayMs));
      }
      const all = [...table.values()];
      const page = all.slice(start, start + limit);
      const headers = {};
      if (start + limit < all.length) {
        const next = Buffer.from(String(start + limit)).toString('base64url');
        headers['X-Next-Cursor'] = next;
        headers.Link = `<${STAGE}/students?limit=${limit}&cursor=${next}>; rel="next"`;
      }
      return json(res, 200, page, headers);
    }

    if (route === `POST ${STAGE}/students`) {
      const { text, size } = await readBody(req, 16 * 1024);
      if (size > 16 * 1024) return json(res, 413, { message: 'request body is larger than 16384 bytes' });
      let body;
      try {
        body = JSON.parse(text);
      } catch (error) {
        return json(res, 400, { message: `request body is not valid JSON: ${error.message}` });
      }
      if (!body || typeof body !== 'object' || Array.isArray(body)) return json(res, 400, { message: 'request body must be a JSON object' });
      const errors = Object.keys(body).filter((k) => !FIELDS.includes(k)).map((k) => ({ field: k, message: 'is not a known field' }));
      // Refusals come from the shared table the real server is tested against, never from the
      // page's own rules: a stand-in that judged with the page's code could not catch drift.
      for (const { field, value, ok } of CASES) {
        if (!ok && body[field] === value) errors.push({ field, message: `is refused (${field} = ${JSON.stringify(value)})` });
      }
      for (const field of FIELDS) {
        if (typeof body[field] !== 'string') errors.push({ field, message: 'is required' });
      }
      if (typeof body.email === 'string' && body.email.endsWith('@rejected.example')) {
        errors.push({ field: 'email', message: 'must be a valid email address (the domain does not accept mail)' });
      }
      if (errors.length) {
        return json(res, 400, { message: `invalid student: check ${errors.map((e) => e.field).join(', ')}`, errors });
      }
      if (table.has(body.studentid)) return json(res, 409, { message: `student ${body.studentid} already exists` });
      const student = {
        studentid: body.studentid,
        name: body.name.trim(),
        class: body.class.trim(),
        birthdate: body.birthdate,
        email: body.email,
      };
      table.set(student.studentid, student);
      if (student.email.endsWith('@nomail.example')) {
        return json(res, 201, { ...student, emailSent: false, warning: 'confirmation email not sent: the mail service refused the address' });
      }
      return json(res, 201, { ...student, emailSent: true });
    }

    if (route === `POST ${STAGE}/backup`) {
      // One backup at a time: while one runs, its id is the answer.
      const running = catalog.find((entry) => entry.view.status === 'running');
      if (running || backupMode !== 'sync') {
        const entry = running ?? startBackup(backupMode === 'fail' ? 'failed' : 'succeeded');
        const statusUrl = `${STAGE}/backups/${entry.view.backupId}`;
        return json(res, 202, { backupId: entry.view.backupId, status: 'running', statusUrl }, { Location: statusUrl });
      }
      const entry = startBackup('succeeded', 0);
      finish(entry);
      const { key, count, bytes, sha256 } = entry.view;
      return json(res, 200, { bucket: 'student-backups', key, count, bytes, sha256, ...downloadLink(entry.body), emailSent: true });
    }

    if (route === `GET ${STAGE}/backups/{backupId}`) {
      let backupId;
      try {
        backupId = decodeURIComponent(statusMatch[1]);
      } catch {
        backupId = statusMatch[1];
      }
      const entry = catalog.find((e) => e.view.backupId === backupId);
      if (!entry) return json(res, 404, { message: `backup ${backupId} not found` });
      if (throttledLeft > 0) {
        throttledLeft -= 1;
        return gatewayError(res, 429, 'Too Many Requests', 'TooManyRequestsException');
      }
      if (entry.view.status === 'running') {
        if (entry.polls > 0) entry.polls -= 1;
        else finish(entry);
      }
      return json(res, 200, show(entry));
    }

    if (route === `GET ${STAGE}/backups`) {
      const limit = url.searchParams.has('limit') ? Number(url.searchParams.get('limit')) : 100;
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) return json(res, 400, { message: 'limit must be 1 to 1000' });
      let start = 0;
      const cursor = url.searchParams.get('cursor');
      if (cursor !== null) {
        start = Number(Buffer.from(cursor, 'base64url').toString('utf8'));
        if (!Number.isInteger(start) || start < 0) return json(res, 400, { message: 'invalid cursor' });
      }
      const headers = {};
      if (start + limit < catalog.length) {
        const next = Buffer.from(String(start + limit)).toString('base64url');
        headers['X-Next-Cursor'] = next;
        headers.Link = `<${STAGE}/backups?limit=${limit}&cursor=${next}>; rel="next"`;
      }
      return json(res, 200, catalog.slice(start, start + limit).map(show), headers);
    }
  });

  await new Promise((resolveListen, rejectListen) => {
    server.once('error', rejectListen);
    server.listen(port, HOST, resolveListen);
  });
  const actualPort = server.address().port;
  return {
    url: `http://${HOST}:${actualPort}${STAGE}`,
    key,
    log,
    students: table,
    /** The catalog's views, newest first. */
    backups: () => catalog.map((entry) => ({ ...entry.view })),
    /** Starts a backup as the daily schedule would; returns its id. */
    scheduleBackup: ({ polls = backupPolls, outcome = 'succeeded' } = {}) => startBackup(outcome, polls).view.backupId,
    close: () =>
      new Promise((resolveClose) => {
        server.close(() => resolveClose());
        server.closeAllConnections();
      }),
  };
}

async function main() {
  const args = process.argv.slice(2);
  const get = (flag, fallback) => {
    const i = args.indexOf(flag);
    return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
  };
  const api = await startFakeApi({
    port: Number(get('--port', '4010')),
    key: get('--key', 'dev-key'),
    students: makeStudents(Number(get('--students', '25'))),
    pageDelayMs: Number(get('--page-delay-ms', '0')),
    backupMode: get('--backup-mode', 'sync'),
    backupPolls: Number(get('--backup-polls', '2')),
  });
  console.log(`fake-api: ${api.url} (x-api-key: ${api.key})`);
  const stop = async () => {
    await api.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main();
}
