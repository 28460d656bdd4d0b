// The client-side rules (src/validate.js) and the error wording (src/api.js), in plain Node.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { checkBirthdate, checkClass, checkEmail, checkField, checkName, checkStudent, checkStudentId, toRequestBody } from '../src/validate.js';
import { ApiError, createClient, describeError, normalizeApiUrl } from '../src/api.js';
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
