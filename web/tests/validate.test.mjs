// The client-side rules (src/validate.js) and the error wording (src/api.js), in plain Node.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { checkBirthdate, checkClass, checkEmail, checkField, checkName, checkStudent, checkStudentId, toRequestBody } from '../src/validate.js';
import { ApiError, createClient, describeError, normalizeApiUrl, resolveStatusUrl, sleep } from '../src/api.js';
import { CASES, TODAY } from './cases.mjs';

test('student IDs: 1–64 of [A-Za-z0-9_-]', () => {
  for (const ok of ['SV001', 'a', 'A_b-9', 'x'.repeat(64)]) assert.equal(checkStudentId(ok), null, ok);
  assert.match(checkStudentId(''), /required/);
  assert.match(checkStudentId('x'.repeat(65)), /at most 64/);
  for (const bad of ['SV 001', 'SV.001', 'é1', 'a/b', ' SV1']) assert.match(checkStudentId(bad), /may contain only/, bad);
});

test('name and class: trimmed length, no control characters', () => {
  assert.equal(checkName('  Nguyễn Văn An  '), null);
  assert.equal(checkName('n'.repeat(200)), null);
  assert.equal(checkName(` ${'n'.repeat(200)} `), null, 'length counts after trimming');
  assert.match(checkName('n'.repeat(201)), /at most 200/);
  assert.match(checkName(' \t\n '), /required/);
  assert.match(checkName('a\u0000b'), /control/);
  assert.match(checkName('a\u007fb'), /control/);
  assert.equal(checkName('<img src=x onerror=alert(1)>'), null, 'markup is just text');
  assert.equal(checkName('😀'.repeat(200)), null, 'characters, not UTF-16 units');
  assert.equal(checkClass('c'.repeat(50)), null);
  assert.match(checkClass('c'.repeat(51)), /at most 50/);
  assert.match(checkClass(''), /required/);
});

test('name and class: no invisible format characters (Cf) nor line or paragraph separators', () => {
  assert.equal(checkName('abc\u202Egpj.exe'), 'Name must not contain invisible format characters (U+202E).');
  assert.equal(checkClass('12\u200BA'), 'Class must not contain invisible format characters (U+200B).');
  assert.equal(checkName('a\u2028b'), 'Name must not contain invisible format characters (U+2028).');
  assert.equal(checkName('Ann\u{E0001}'), 'Name must not contain invisible format characters (U+E0001).');
  for (const c of ['\u00AD', '\u200E', '\u2066', '\u2069', '\uFEFF', '\u2029']) assert.match(checkName(`a${c}b`), /invisible/, c);
  assert.equal(checkName('\u2028Ann\u2029'), null, 'separators at the ends are white space, trimmed');
  assert.equal(checkName('Zoë\u00A0Åsa'), null, 'a no-break space is a space, not a format character');
});

test('birth dates: a real YYYY-MM-DD from 1900-01-01 to today (UTC)', () => {
  const today = '2026-06-15';
  for (const ok of ['1900-01-01', '2000-02-29', '2026-06-15', '2024-12-31']) assert.equal(checkBirthdate(ok, today), null, ok);
  assert.match(checkBirthdate('', today), /required/);
  for (const bad of ['2004-9-15', '15-09-2004', '2004/09/15', '20040915', ' 2004-09-15', '2004-09-15T00:00']) {
    assert.match(checkBirthdate(bad, today), /YYYY-MM-DD/, bad);
  }
  for (const bad of ['2023-02-29', '2004-13-01', '2004-00-10', '2004-04-31', '1900-02-29', '2004-01-00']) {
    assert.match(checkBirthdate(bad, today), /not a real calendar date/, bad);
  }
  assert.match(checkBirthdate('2026-06-16', today), /future/);
  assert.match(checkBirthdate('1899-12-31', today), /before 1900-01-01/);
});

test('emails: valid syntax with a dotted domain, at most 254 characters', () => {
  for (const ok of ['a@b.co', 'first.last+tag@sub.example.edu', "o'brien@example.ie", 'x@xn--bcher-kva.example', '"quoted name"@example.com']) {
    assert.equal(checkEmail(ok), null, ok);
  }
  assert.match(checkEmail(''), /required/);
  const cases = {
    'plainaddress': /no “@”/,
    '@example.com': /before the “@”/,
    'a@': /after the “@”/,
    'a@localhost': /needs a dot/,
    'a..b@example.com': /not allowed/,
    '.a@example.com': /not allowed/,
    'a b@example.com': /not allowed/,
    'a@exa mple.com': /only letters/,
    'a@-example.com': /only letters/,
    'a@example..com': /empty part/,
    'a@[127.0.0.1]': /IP address/,
    'Name <a@example.com>': /not allowed/,
  };
  for (const [bad, pattern] of Object.entries(cases)) assert.match(checkEmail(bad), pattern, bad);
  assert.match(checkEmail(`${'a'.repeat(65)}@example.com`), /longer than 64/);
  const long = `a@${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(60)}.${'e'.repeat(70)}.com`;
  assert.match(checkEmail(long), /at most 254/);
});

test('the page agrees with every shared case (system/cases/new-student.json), as the server does', () => {
  const check = (field, value) => (field === 'birthdate' ? checkBirthdate(value, TODAY) : checkField(field, value));
  const disagreements = CASES.filter(({ field, value, ok }) => (check(field, value) === null) !== ok)
    .map(({ field, value, ok }) => `${field} = ${JSON.stringify(value)}: expected ok=${ok}, got ${check(field, value)}`);
  assert.deepEqual(disagreements, []);
});

test('checkStudent reports every field; the request body has exactly the five fields', () => {
  assert.deepEqual(Object.keys(checkStudent({})), ['studentid', 'name', 'class', 'birthdate', 'email']);
  const good = { studentid: 'SV1', name: ' An ', class: ' 10A1 ', birthdate: '2008-01-02', email: 'an@example.edu', extra: 'x' };
  assert.deepEqual(checkStudent(good), {});
  assert.deepEqual(toRequestBody(good), { studentid: 'SV1', name: 'An', class: '10A1', birthdate: '2008-01-02', email: 'an@example.edu' });
});

test('error messages a person understands', () => {
  const apiUrl = 'http://127.0.0.1:4010/prod';
  const http = (status, serverMessage) => new ApiError('http', 'x', { status, serverMessage, apiUrl });
  assert.equal(describeError(http(403, 'Forbidden')), 'The API key is missing or not valid. Check it in Settings.');
  assert.match(describeError(http(403, 'Missing Authentication Token')), /does not lead to the student-records API/);
  assert.equal(describeError(http(429, 'Too Many Requests')), 'Too many requests — try again in a moment.');
  assert.equal(describeError(http(429, 'Limit Exceeded')), 'The daily request quota for this key is used up. Try again tomorrow (UTC).');
  for (const status of [500, 502, 503, 504]) assert.equal(describeError(http(status, 'Internal server error')), 'The service had a problem. Try again.');
  assert.equal(describeError(new ApiError('network', 'x', { apiUrl })), `The API cannot be reached at ${apiUrl}. Check the API URL in Settings.`);
  assert.match(describeError(http(413, '')), /too large/);
  assert.match(describeError(http(418, '')), /HTTP status 418/, 'an unknown status still gets a sentence');
});

test('API URLs: http(s) only, trailing slashes dropped', () => {
  assert.equal(normalizeApiUrl(' http://127.0.0.1:4010/prod/ '), 'http://127.0.0.1:4010/prod');
  assert.equal(normalizeApiUrl('https://abc.execute-api.eu-west-1.amazonaws.com/prod'), 'https://abc.execute-api.eu-west-1.amazonaws.com/prod');
  for (const bad of ['', 'javascript:alert(1)', 'ftp://x/prod', 'not a url', 'http://x/prod?a=1']) assert.equal(normalizeApiUrl(bad), null, bad);
});

test('the client follows X-Next-Cursor to the end and sends the key', async () => {
  const calls = [];
  const pages = { '': [[{ studentid: 'A' }], 'c1'], c1: [[{ studentid: 'B' }], 'c2'], c2: [[{ studentid: 'C' }], null] };
  const fetchImpl = async (url, init) => {
    calls.push({ url, key: init.headers['x-api-key'] });
    const cursor = new URL(url).searchParams.get('cursor') ?? '';
    const [body, next] = pages[cursor];
    return new Response(JSON.stringify(body), { status: 200, headers: next ? { 'X-Next-Cursor': next } : {} });
  };
  const client = createClient({ apiUrl: 'http://api.test/prod/', apiKey: 'k1', fetchImpl });
  const seen = [];
  for await (const page of client.studentPages({ limit: 1000 })) seen.push(...page.map((s) => s.studentid));
  assert.deepEqual(seen, ['A', 'B', 'C']);
  assert.deepEqual(calls.map((c) => c.url), [
    'http://api.test/prod/students?limit=1000',
    'http://api.test/prod/students?limit=1000&cursor=c1',
    'http://api.test/prod/students?limit=1000&cursor=c2',
  ]);
  assert.ok(calls.every((c) => c.key === 'k1'));
});

test('the client turns failures into ApiError with status, message and field errors', async () => {
  const respond = (status, body) => async () => new Response(JSON.stringify(body), { status });
  const client = (fetchImpl) => createClient({ apiUrl: 'http://api.test/prod', apiKey: 'k', fetchImpl });
  await assert.rejects(client(respond(409, { message: 'student SV1 already exists' })).addStudent({}), (e) => {
    assert.equal(e.status, 409);
    assert.equal(e.serverMessage, 'student SV1 already exists');
    return true;
  });
  const errors = [{ field: 'email', message: 'must be a valid email address (x)' }];
  await assert.rejects(client(respond(400, { message: 'invalid student: check email', errors })).addStudent({}), (e) => {
    assert.deepEqual(e.errors, errors);
    return true;
  });
  await assert.rejects(client(async () => { throw new TypeError('Failed to fetch'); }).backup(), (e) => e.kind === 'network');
  await assert.rejects(client(async () => new Response('<html>', { status: 200 })).backup(), (e) => e.kind === 'bad-response');
  const loop = async () => new Response('[]', { status: 200, headers: { 'X-Next-Cursor': 'same' } });
  await assert.rejects(async () => {
    for await (const _ of client(loop).studentPages()) { /* drain */ }
  }, /came back twice/);
});

// ------------------------------------------------------------------ backups (issue 12)

const API = 'http://api.test/prod';

/** A fetch stub answering from `answer(url, init)` ({status, body, headers}), recording each call. */
function stubFetch(answer) {
  const calls = [];
  const fetchImpl = async (url, init) => {
    calls.push({ url, method: init.method, key: init.headers['x-api-key'] });
    const { status = 200, body = null, headers = {} } = await answer(url, init, calls.length);
    return new Response(body === null ? '' : JSON.stringify(body), { status, headers });
  };
  return { calls, client: createClient({ apiUrl: API, apiKey: 'k', fetchImpl }) };
}

const view = (status, extra = {}) => ({
  backupId: 'backup-20250706-090807-1a2b3c4d',
  status,
  startedAt: '2025-07-06T09:08:07Z',
  finishedAt: null,
  count: null,
  bytes: null,
  sha256: null,
  key: null,
  downloadUrl: null,
  expiresAt: null,
  ...extra,
});

test('status URLs resolve against the API origin, and never lead the key elsewhere', () => {
  assert.equal(resolveStatusUrl(API, '/prod/backups/b-1'), 'http://api.test/prod/backups/b-1');
  assert.equal(resolveStatusUrl('https://x.example/prod/', '/prod/backups/b-1'), 'https://x.example/prod/backups/b-1');
  assert.equal(resolveStatusUrl(API, 'http://api.test/prod/backups/b-1#x'), 'http://api.test/prod/backups/b-1');
  for (const bad of ['https://evil.example/prod/backups/b-1', '//evil.example/prod/backups/b-1', 'http://api.test:8080/prod/backups/b',
    'javascript:alert(1)', 'http://user:pw@api.test/prod/backups/b', '', '   ', null, 42]) {
    assert.equal(resolveStatusUrl(API, bad), null, String(bad));
  }
});

test('POST /backup: 200 is the finished report, 202 the backup to follow', async () => {
  const report = { bucket: 'b', key: 'backups/k.json', count: 3, bytes: 120, sha256: 'ab', downloadUrl: 'https://d/k', expiresAt: 'x', emailSent: true };
  let answer = { status: 200, body: report };
  const { calls, client } = stubFetch(() => answer);
  assert.deepEqual(await client.backup(), { done: true, report });
  assert.deepEqual(calls[0], { url: `${API}/backup`, method: 'POST', key: 'k' });

  const accepted = { backupId: 'b-1', status: 'running', statusUrl: '/prod/backups/b-1' };
  answer = { status: 202, body: accepted, headers: { Location: '/prod/backups/b-1' } };
  assert.deepEqual(await client.backup(), { done: false, backupId: 'b-1', statusUrl: 'http://api.test/prod/backups/b-1' });
  // Location when the body has no statusUrl; the id under the API URL when neither is there.
  answer = { status: 202, body: { backupId: 'b-2', status: 'running' }, headers: { Location: '/prod/backups/b-2' } };
  assert.equal((await client.backup()).statusUrl, 'http://api.test/prod/backups/b-2');
  answer = { status: 202, body: { backupId: 'b 3', status: 'running' } };
  assert.equal((await client.backup()).statusUrl, 'http://api.test/prod/backups/b%203');

  answer = { status: 202, body: { ...accepted, statusUrl: 'https://evil.example/prod/backups/b-1' } };
  await assert.rejects(client.backup(), (e) => e.kind === 'bad-response' && /origin/.test(e.message));
  answer = { status: 202, body: { status: 'running', statusUrl: '/prod/backups/b-1' } };
  await assert.rejects(client.backup(), (e) => e.kind === 'bad-response');
  answer = { status: 200, body: [] };
  await assert.rejects(client.backup(), (e) => e.kind === 'bad-response');
  answer = { status: 503, body: { message: 'the database is unavailable' } };
  await assert.rejects(client.backup(), (e) => {
    assert.equal(describeError(e), 'The service had a problem. Try again.');
    return e.status === 503;
  });
});

test('GET /backups/{id} sends the key to the API only; a 404 is an ApiError', async () => {
  const { calls, client } = stubFetch((url) => (url.endsWith('/nope') ? { status: 404, body: { message: 'backup nope not found' } } : { body: view('running') }));
  assert.equal((await client.backupStatus('/prod/backups/b-1')).status, 'running');
  assert.deepEqual(calls[0], { url: 'http://api.test/prod/backups/b-1', method: 'GET', key: 'k' });
  assert.equal(client.statusUrlFor('b-1'), 'http://api.test/prod/backups/b-1');
  await assert.rejects(client.backupStatus('/prod/backups/nope'), (e) => e.status === 404 && e.serverMessage === 'backup nope not found');
  await assert.rejects(client.backupStatus('https://evil.example/prod/backups/b-1'), (e) => e.kind === 'bad-response');
  assert.equal(calls.length, 2, 'nothing was sent to another origin');
  const odd = stubFetch(() => ({ body: { status: 'running' } }));
  await assert.rejects(odd.client.backupStatus('/prod/backups/b-1'), (e) => e.kind === 'bad-response');
});

test('GET /backups: one page with limit and cursor, the next cursor from X-Next-Cursor', async () => {
  const pages = { '': [[view('succeeded'), view('failed', { backupId: 'b-0' })], 'c1'], c1: [[view('running', { backupId: 'b-old' })], null] };
  const { calls, client } = stubFetch((url) => {
    const [body, next] = pages[new URL(url).searchParams.get('cursor') ?? ''];
    return { body, headers: next ? { 'X-Next-Cursor': next } : {} };
  });
  const first = await client.backups({ limit: 10 });
  assert.deepEqual(first.items.map((v) => v.backupId), ['backup-20250706-090807-1a2b3c4d', 'b-0']);
  assert.equal(first.nextCursor, 'c1');
  const second = await client.backups({ limit: 10, cursor: first.nextCursor });
  assert.deepEqual(second, { items: [view('running', { backupId: 'b-old' })], nextCursor: null });
  assert.deepEqual(calls.map((c) => c.url), [`${API}/backups?limit=10`, `${API}/backups?limit=10&cursor=c1`]);
  assert.ok(calls.every((c) => c.key === 'k'));
  // Entries without an id or status are left out; a body that is not a list is refused.
  const mixed = stubFetch(() => ({ body: [view('succeeded'), null, 'x', { status: 'running' }, { backupId: 'b', status: 7 }] }));
  assert.equal((await mixed.client.backups()).items.length, 1);
  const notList = stubFetch(() => ({ body: { items: [] } }));
  await assert.rejects(notList.client.backups(), (e) => e.kind === 'bad-response');
  const forbidden = stubFetch(() => ({ status: 403, body: { message: 'Forbidden' } }));
  await assert.rejects(forbidden.client.backups(), (e) => describeError(e) === 'The API key is missing or not valid. Check it in Settings.');
});

/** A clock that `wait` moves on, so following a backup takes no real time. */
function fakeClock() {
  let t = 0;
  const waits = [];
  return { waits, now: () => t, wait: async (ms) => { waits.push(ms); t += ms; } };
}

test('following a backup: every 2 s until it ends; a 429 waits longer and goes on', async () => {
  const script = [{ body: view('running') }, { status: 429, body: { message: 'Too Many Requests' } }, { body: view('running') },
    { body: view('succeeded', { count: 3, downloadUrl: 'https://d/1' }) }];
  const { calls, client } = stubFetch((url, init, n) => script[n - 1]);
  const clock = fakeClock();
  const updates = [];
  const retries = [];
  const result = await client.followBackup('/prod/backups/b-1', { ...clock, onUpdate: (v) => updates.push(v.status), onRetry: (r) => retries.push([r.error.status, r.delayMs]) });
  assert.equal(result.status, 'succeeded');
  assert.equal(result.count, 3);
  assert.deepEqual(clock.waits, [2000, 2000, 5000, 2000]);
  assert.deepEqual(updates, ['running', 'running', 'succeeded']);
  assert.deepEqual(retries, [[429, 5000]]);
  assert.equal(calls.length, 4);
  assert.ok(calls.every((c) => c.url === 'http://api.test/prod/backups/b-1' && c.key === 'k'));
});

test('following a backup: failed ends it; the time limit gives up; lasting errors stop it', async () => {
  const failed = stubFetch(() => ({ body: view('failed', { error: 'the bucket refused the upload' }) }));
  const end = await failed.client.followBackup('/prod/backups/b-1', fakeClock());
  assert.deepEqual([end.status, end.error], ['failed', 'the bucket refused the upload']);

  // Still running after 15 minutes: the last status comes back, after 450 checks.
  const slow = stubFetch(() => ({ body: view('running') }));
  const clock = fakeClock();
  const last = await slow.client.followBackup('/prod/backups/b-1', clock);
  assert.equal(last.status, 'running');
  assert.equal(slow.calls.length, 450);
  assert.equal(clock.now(), 15 * 60 * 1000);
  // Never answered at all within the limit: null.
  const throttled = stubFetch(() => ({ status: 429, body: { message: 'Too Many Requests' } }));
  assert.equal(await throttled.client.followBackup('/prod/backups/b-1', { ...fakeClock(), timeoutMs: 60_000 }), null);

  // 5xx and network failures are tried again, growing the pause, up to 5 in a row.
  const flaky = stubFetch((url, init, n) => (n <= 4 ? { status: 502, body: { message: 'Internal server error' } } : { body: view('succeeded') }));
  const flakyClock = fakeClock();
  assert.equal((await flaky.client.followBackup('/prod/backups/b-1', flakyClock)).status, 'succeeded');
  assert.deepEqual(flakyClock.waits, [2000, 4000, 8000, 16000, 30000]);
  const down = stubFetch(() => {
    throw new TypeError('Failed to fetch');
  });
  await assert.rejects(down.client.followBackup('/prod/backups/b-1', fakeClock()), (e) => e.kind === 'network');
  assert.equal(down.calls.length, 5);

  // What waiting cannot mend stops at once: an unknown backup, a refused key, the day's quota.
  for (const [status, message] of [[404, 'backup b-1 not found'], [403, 'Forbidden'], [429, 'Limit Exceeded']]) {
    const refused = stubFetch(() => ({ status, body: { message } }));
    await assert.rejects(refused.client.followBackup('/prod/backups/b-1', fakeClock()), (e) => e.status === status && e.serverMessage === message);
    assert.equal(refused.calls.length, 1, `${status} ${message}`);
  }
});

test('following a backup stops as soon as it is cancelled', async () => {
  const { calls, client } = stubFetch(() => ({ body: view('running') }));
  const controller = new AbortController();
  const started = Date.now();
  const following = client.followBackup('/prod/backups/b-1', { intervalMs: 20, signal: controller.signal, onUpdate: () => controller.abort() });
  await assert.rejects(following, (e) => e.name === 'AbortError');
  assert.equal(calls.length, 1);
  assert.ok(Date.now() - started < 1000);
  await assert.rejects(sleep(10_000, AbortSignal.abort()), (e) => e.name === 'AbortError');
});
