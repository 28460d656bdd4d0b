// Browser tests of the page that need no real stack: the built page (web/dist) is served by
// serve.mjs with its CSP header, and where an API is needed a stand-in (fake-api.mjs) answers
// by the documented contract. Run web/build.sh first. The real-stack tests are api.test.mjs.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';

import { startServer, CSP } from './serve.mjs';
import { startFakeApi, makeBackupId, makeStudents } from './fake-api.mjs';
import { FIELDS } from '../src/validate.js';
import {
  DIST_DIR,
  PHONE,
  backupIds,
  backupsSettled,
  fillStudent,
  gotoReady,
  launchBrowser,
  loadsFinished,
  openPage,
  recordButtonStates,
  saveSettings,
  screenshot,
  tableIds,
  waitForLoad,
} from './helpers.mjs';

const CLOSED_API = 'http://127.0.0.1:9/prod';

let browser;
const cleanups = [];

before(async () => {
  if (!existsSync(join(DIST_DIR, 'index.html')) || !existsSync(join(DIST_DIR, 'app.css'))) {
    throw new Error(`${DIST_DIR} is not built: run web/build.sh first`);
  }
  browser = await launchBrowser();
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  if (browser) await browser.close();
});

/** Serves dist with config.json {apiUrl} (null: no config.json); closed after all tests. */
async function site(apiUrl) {
  const server = await startServer({ root: DIST_DIR, port: 0, config: apiUrl === null ? null : { apiUrl } });
  cleanups.push(() => server.close());
  return server;
}

async function fakeApi(options) {
  const api = await startFakeApi(options);
  cleanups.push(() => api.close());
  return api;
}

/** A page on a fresh context, closed after the test; `problems` collects console errors. */
async function page(t, options = {}) {
  const opened = await openPage(browser, { label: t.name, ...options });
  t.after(() => opened.context.close());
  return opened;
}

async function assertClean(pageHandle, problems) {
  const violations = await pageHandle.evaluate(() => window.__cspViolations);
  assert.deepEqual(violations, [], 'Content-Security-Policy violations');
  assert.deepEqual(problems, [], 'console errors');
}

async function bannerText(p) {
  await p.getByTestId('error-banner').waitFor({ state: 'visible' });
  return (await p.getByTestId('error-text').textContent()).trim();
}

test('the page loads under the CSP header with no console errors, and every input has a label', async (t) => {
  const server = await site(CLOSED_API);
  const { page: p, problems } = await page(t);
  const response = await p.goto(server.url);
  assert.equal(response.headers()['content-security-policy'], CSP);
  assert.match(CSP, /form-action 'none'/, 'no form submits anywhere, script or not');
  await p.locator('html[data-ready="true"]').waitFor();

  const meta = await p.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
  assert.match(meta, /script-src 'self'/);
  assert.match(meta, /style-src 'self'/);
  assert.doesNotMatch(meta, /frame-ancestors/, 'frame-ancestors is ignored in <meta> and only belongs in the header');

  // Prefilled from config.json; no key yet, so the page asks for one and sends nothing.
  assert.equal(await p.getByTestId('settings-api-url').inputValue(), CLOSED_API);
  assert.equal(await p.getByTestId('settings-api-key').inputValue(), '');
  assert.match(await p.getByTestId('status').textContent(), /Enter the API key in Settings/);
  assert.equal(await p.getByTestId('student-count').getAttribute('data-state'), 'idle');

  // The stylesheet is the built Tailwind CSS, from this origin.
  const sheets = await p.evaluate(() => [...document.styleSheets].map((s) => s.href));
  assert.deepEqual(sheets, [new URL('app.css', server.url).href]);
  const css = await (await fetch(new URL('app.css', server.url))).text();
  assert.match(css, /tailwindcss v4/);

  // No inline scripts, handlers or style attributes in the markup.
  const inline = await p.evaluate(() => ({
    inlineScripts: [...document.scripts].filter((s) => !s.src).length,
    handlers: [...document.querySelectorAll('*')].filter((el) => [...el.attributes].some((a) => a.name.startsWith('on'))).length,
    styleAttributes: document.querySelectorAll('[style]').length,
  }));
  assert.deepEqual(inline, { inlineScripts: 0, handlers: 0, styleAttributes: 0 });

  // Every form control has a label; every id referenced by aria-describedby exists.
  const unlabelled = await p.evaluate(() =>
    [...document.querySelectorAll('input, select, textarea')].filter((el) => !el.labels || el.labels.length === 0).map((el) => el.id),
  );
  assert.deepEqual(unlabelled, []);
  const dangling = await p.evaluate(() =>
    [...document.querySelectorAll('[aria-describedby]')].flatMap((el) =>
      el.getAttribute('aria-describedby').split(/\s+/).filter((id) => !document.getElementById(id)),
    ),
  );
  assert.deepEqual(dangling, []);

  await screenshot(p, 'ui-initial-desktop');
  await p.setViewportSize(PHONE);
  const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than a phone screen`);
  await screenshot(p, 'ui-initial-phone');
  await assertClean(p, problems);
});

test('keyboard: Tab moves through Settings, the form, Backup and the table in order, with a visible focus ring', async (t) => {
  const server = await site(CLOSED_API);
  const { page: p, problems } = await page(t);
  await gotoReady(p, server.url);
  const order = [];
  for (let i = 0; i < 18; i += 1) {
    await p.keyboard.press('Tab');
    order.push(await p.evaluate(() => document.activeElement.dataset.testid || document.activeElement.id || document.activeElement.tagName));
  }
  const expected = ['settings-api-url', 'settings-api-key', 'settings-show-key', 'save-settings', 'forget-key',
    'field-studentid', 'field-name', 'field-class', 'field-birthdate', 'field-email', 'submit-student', 'backup-button',
    'backups-refresh', 'reload-students', 'search', 'students-scroll', 'sort-studentid'];
  // The skip link comes first.
  assert.deepEqual(order.slice(1), expected, `focus order: ${order.join(' → ')}`);
  // The focused button draws an outline.
  await p.getByTestId('backup-button').focus();
  await p.keyboard.press('Shift+Tab');
  await p.keyboard.press('Tab');
  const outline = await p.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(outline, 'none');
  await assertClean(p, problems);
});

test('per-field checks show as the user types, and an invalid form sends nothing', async (t) => {
  const api = await fakeApi({ key: 'k-valid', students: makeStudents(3) });
  const server = await site(api.url);
  const { page: p, problems } = await page(t);
  const posts = [];
  p.on('request', (request) => {
    if (request.method() === 'POST') posts.push(request.url());
  });
  await gotoReady(p, server.url);
  await saveSettings(p, { apiUrl: api.url, apiKey: 'k-valid' });

  const cases = [
    ['studentid', 'SV 001', /may contain only letters/],
    ['studentid', 'x'.repeat(65), /at most 64 characters/],
    ['name', '   ', /Name is required/],
    ['name', 'a\u0007b', /control characters/],
    ['class', 'C'.repeat(51), /at most 50 characters/],
    ['birthdate', '2023-02-30', /not a real calendar date/],
    ['birthdate', '1899-12-31', /before 1900-01-01/],
    ['birthdate', '9999-01-01', /must not be in the future/],
    ['birthdate', '12/05/2004', /YYYY-MM-DD/],
    ['email', 'someone@localhost', /needs a dot/],
    ['email', 'no-at-sign.example.com', /no “@”/],
  ];
  for (const [field, value, pattern] of cases) {
    const input = p.getByTestId(`field-${field}`);
    await input.fill('');
    // Typed key by key (fill for control characters, which keyboards cannot type).
    if (/^[\x20-\x7e]*$/.test(value) && value.length < 20) await input.pressSequentially(value);
    else await input.fill(value);
    const message = p.getByTestId(`field-error-${field}`);
    await message.waitFor({ state: 'visible' });
    assert.match(await message.textContent(), pattern, `${field}=${JSON.stringify(value)}`);
    assert.equal(await input.getAttribute('aria-invalid'), 'true');
    assert.ok((await input.getAttribute('aria-describedby')).split(' ').includes(`field-error-${field}`));
  }

  // Typing a valid value clears the message.
  await p.getByTestId('field-email').fill('');
  await p.getByTestId('field-email').pressSequentially('ok@example.com');
  await p.getByTestId('field-error-email').waitFor({ state: 'hidden' });
  assert.equal(await p.getByTestId('field-email').getAttribute('aria-invalid'), 'false');

  // Submitting the still-invalid form sends nothing and focuses the first bad field.
  await p.getByTestId('field-studentid').fill('bad id');
  await p.getByTestId('submit-student').click();
  await p.getByTestId('status').getByText(/Please correct/).waitFor();
  assert.equal(await p.evaluate(() => document.activeElement.id), 'field-studentid');
  for (const field of ['studentid', 'name', 'class', 'birthdate']) {
    assert.equal(await p.getByTestId(`field-${field}`).getAttribute('aria-invalid'), 'true', field);
  }
  // Every field is checked on submit, including those never touched.
  await p.reload();
  await p.locator('html[data-ready="true"]').waitFor();
  await p.getByTestId('submit-student').click();
  for (const field of FIELDS) {
    await p.getByTestId(`field-error-${field}`).waitFor({ state: 'visible' });
  }
  await screenshot(p, 'ui-form-errors');
  assert.deepEqual(posts, [], 'no POST may be sent');
  assert.equal(api.log.filter((r) => r.method === 'POST').length, 0);
  await assertClean(p, problems);
});

test('an API that cannot be reached gets a plain-language message', async (t) => {
  const server = await site(CLOSED_API);
  const { page: p, problems } = await page(t, { allow: ['net'] });
  await gotoReady(p, server.url);
  await saveSettings(p, { apiUrl: CLOSED_API, apiKey: 'any-key' });
  assert.equal(await bannerText(p), `The API cannot be reached at ${CLOSED_API}. Check the API URL in Settings.`);
  assert.equal(await p.getByTestId('student-count').getAttribute('data-state'), 'error');
  await screenshot(p, 'ui-error-unreachable');

  // A port that was just closed (connection refused, rather than a port Chromium never uses).
  const probe = createServer();
  await new Promise((r) => probe.listen(0, '127.0.0.1', r));
  const closedUrl = `http://127.0.0.1:${probe.address().port}/prod`;
  await new Promise((r) => probe.close(r));
  await saveSettings(p, { apiUrl: closedUrl, apiKey: 'any-key' });
  assert.equal(await bannerText(p), `The API cannot be reached at ${closedUrl}. Check the API URL in Settings.`);
  await assertClean(p, problems);
});

test('without config.json the page still works and asks for the API URL', async (t) => {
  const server = await site(null);
  const { page: p, problems } = await page(t, { allow: [404] });
  await gotoReady(p, server.url);
  assert.equal(await p.getByTestId('settings-api-url').inputValue(), '');
  assert.match(await p.getByTestId('status').textContent(), /Enter the API URL and the API key/);
  await p.getByTestId('save-settings').click();
  await p.getByTestId('settings-error-api-url').waitFor({ state: 'visible' });
  assert.equal(await p.getByTestId('settings-api-url').getAttribute('aria-invalid'), 'true');
  await p.getByTestId('settings-api-url').fill('javascript:alert(1)');
  await p.getByTestId('save-settings').click();
  await p.getByTestId('settings-error-api-url').waitFor({ state: 'visible' });
  await assertClean(p, problems);
});

test('the key is kept in localStorage, and "Forget key" clears it', async (t) => {
  const api = await fakeApi({ key: 'k-remember', students: makeStudents(5) });
  const server = await site(api.url);
  const { page: p, problems } = await page(t);
  await gotoReady(p, server.url);
  await saveSettings(p, { apiUrl: api.url, apiKey: 'k-remember' });
  assert.equal(await p.evaluate(() => localStorage.getItem('studentRecords.apiKey')), 'k-remember');

  // A new visit loads the list straight away with the kept key.
  await p.reload();
  await p.locator('html[data-ready="true"]').waitFor();
  assert.equal(await p.getByTestId('settings-api-key').inputValue(), 'k-remember');
  await p.locator('[data-testid="student-count"][data-state="ready"]').waitFor();
  assert.equal(await p.getByTestId('student-count').getAttribute('data-total'), '5');

  await p.getByTestId('forget-key').click();
  assert.equal(await p.evaluate(() => localStorage.getItem('studentRecords.apiKey')), null);
  assert.equal(await p.getByTestId('settings-api-key').inputValue(), '');
  assert.match(await p.getByTestId('status').textContent(), /removed from this browser/);
  assert.equal((await tableIds(p)).length, 0, 'the list is cleared with the key');
  await assertClean(p, problems);
});

test('every page is followed with limit=1000, with progress while loading', async (t) => {
  const api = await fakeApi({ key: 'k', students: makeStudents(2500), pageDelayMs: 700, burst: 100, rate: 100 });
  const server = await site(api.url);
  const { page: p, problems } = await page(t);
  await gotoReady(p, server.url);
  await p.getByTestId('settings-api-url').fill(api.url);
  await p.getByTestId('settings-api-key').fill('k');
  await p.getByTestId('save-settings').click();
  await p.getByTestId('student-count').getByText('Loading… 1,000 students so far').waitFor();
  await p.getByTestId('student-count').getByText('Loading… 2,000 students so far').waitFor();
  await p.locator('[data-testid="student-count"][data-state="ready"]').waitFor({ timeout: 30_000 });
  assert.equal((await p.getByTestId('student-count').textContent()).trim(), '2,500 students');
  const ids = await tableIds(p);
  assert.equal(ids.length, 2500);
  assert.equal(new Set(ids).size, 2500);
  const gets = api.log.filter((r) => r.method === 'GET' && r.path.startsWith('/prod/students')).map((r) => r.path);
  assert.equal(gets.length, 3);
  assert.ok(gets.every((path) => path.includes('limit=1000')), gets.join(' '));
  assert.ok(gets[1].includes('cursor=') && gets[2].includes('cursor='));
  await screenshot(p, 'ui-table-loaded');
  await assertClean(p, problems);
});

test('columns sort with aria-sort (mouse and keyboard) and search filters across all columns', async (t) => {
  const students = [
    { studentid: 'B2', name: 'Zoë Adams', class: '10A1', birthdate: '2008-03-01', email: 'zoe@example.edu' },
    { studentid: 'A10', name: 'Minh Tran', class: '12C3', birthdate: '2006-11-20', email: 'minh@school.example' },
    { studentid: 'A9', name: 'ann lee', class: '11B1', birthdate: '2007-01-15', email: 'ann@example.edu' },
  ];
  const api = await fakeApi({ key: 'k', students });
  const server = await site(api.url);
  const { page: p, problems } = await page(t);
  await gotoReady(p, server.url);
  await saveSettings(p, { apiUrl: api.url, apiKey: 'k' });
  assert.deepEqual(await tableIds(p), ['A9', 'A10', 'B2'], 'natural order of IDs');
  assert.equal(await p.locator('th[data-col="studentid"]').getAttribute('aria-sort'), 'ascending');

  await p.getByTestId('sort-name').click();
  assert.equal(await p.locator('th[data-col="name"]').getAttribute('aria-sort'), 'ascending');
  assert.equal(await p.locator('th[data-col="studentid"]').getAttribute('aria-sort'), 'none');
  assert.deepEqual(await tableIds(p), ['A9', 'A10', 'B2']);
  await p.getByTestId('sort-name').press('Enter');
  assert.equal(await p.locator('th[data-col="name"]').getAttribute('aria-sort'), 'descending');
  assert.deepEqual(await tableIds(p), ['B2', 'A10', 'A9']);
  await p.getByTestId('sort-birthdate').focus();
  await p.keyboard.press('Space');
  assert.deepEqual(await tableIds(p), ['A10', 'A9', 'B2']);

  await p.getByTestId('search').fill('EXAMPLE.EDU');
  await p.waitForFunction(() => document.querySelector('[data-testid="student-count"]').dataset.shown === '2');
  assert.deepEqual(new Set(await tableIds(p)), new Set(['A9', 'B2']));
  assert.equal((await p.getByTestId('student-count').textContent()).trim(), 'Showing 2 of 3 students');
  await p.getByTestId('search').fill('12c3');
  await p.waitForFunction(() => document.querySelector('[data-testid="student-count"]').dataset.shown === '1');
  assert.deepEqual(await tableIds(p), ['A10']);
  await p.getByTestId('search').fill('nobody');
  await p.getByTestId('students-body').getByText('No student matches “nobody”.').waitFor();
  await assertClean(p, problems);
});

test('adding: success with and without email, duplicate ID, server field errors, markup as text', async (t) => {
  const api = await fakeApi({ key: 'k', students: makeStudents(2), burst: 50, rate: 50 });
  const server = await site(api.url);
  const { page: p, problems } = await page(t, { allow: [400, 409] });
  await gotoReady(p, server.url);
  await saveSettings(p, { apiUrl: api.url, apiKey: 'k' });
  const count = async () => Number(await p.getByTestId('student-count').getAttribute('data-total'));
  assert.equal(await count(), 2);

  // Success, email sent. The body holds exactly the five fields, trimmed where the server trims.
  const sent = [];
  p.on('request', (r) => {
    if (r.method() === 'POST') sent.push(JSON.parse(r.postData()));
  });
  await fillStudent(p, { studentid: 'NEW-1', name: '  Lan Pham ', class: '10A1', birthdate: '2008-02-29', email: 'lan@example.edu' });
  await p.getByTestId('submit-student').click();
  await p.getByTestId('status').getByText('Student NEW-1 (Lan Pham) was added. A confirmation email was sent to lan@example.edu.').waitFor();
  assert.deepEqual(sent[0], { studentid: 'NEW-1', name: 'Lan Pham', class: '10A1', birthdate: '2008-02-29', email: 'lan@example.edu' });
  assert.equal(await count(), 3);
  await p.locator('tr[data-studentid="NEW-1"]').waitFor();
  assert.equal(await p.getByTestId('field-studentid').inputValue(), '', 'the form is cleared');
  await screenshot(p, 'ui-add-success');

  // Stored, but no email: the warning is shown.
  await fillStudent(p, { studentid: 'NEW-2', name: 'Bao', class: '10A1', birthdate: '2008-01-01', email: 'bao@nomail.example' });
  await p.getByTestId('submit-student').click();
  await p.getByTestId('status').getByText(/was added, but confirmation email not sent: the mail service refused the address/).waitFor();
  assert.equal(await count(), 4);

  // Duplicate.
  await fillStudent(p, { studentid: 'NEW-1', name: 'Again', class: '10A1', birthdate: '2008-01-01', email: 'again@example.edu' });
  await p.getByTestId('submit-student').click();
  assert.match(await bannerText(p), /^A student with ID NEW-1 already exists\./);
  assert.match(await p.getByTestId('field-error-studentid').textContent(), /A student with ID NEW-1 already exists/);
  assert.equal(await p.getByTestId('field-studentid').getAttribute('aria-invalid'), 'true');
  assert.equal(await count(), 4);
  // Editing the ID clears the server's message.
  await p.getByTestId('field-studentid').fill('NEW-3');
  await p.getByTestId('field-error-studentid').waitFor({ state: 'hidden' });

  // The server's field errors (400) go next to the field.
  await p.getByTestId('field-email').fill('x@rejected.example');
  await p.getByTestId('submit-student').click();
  await p.getByTestId('field-error-email').getByText('Email must be a valid email address (the domain does not accept mail).').waitFor();
  assert.match(await bannerText(p), /did not accept the student: check Email/);
  assert.equal(await p.evaluate(() => document.activeElement.id), 'field-email');

  // Markup in a value is shown as text.
  const xss = '<img src=x onerror=window.__xss=1>';
  await fillStudent(p, { studentid: 'XSS-1', name: xss, class: '<b>bold</b>', birthdate: '2008-01-01', email: 'x@example.edu' });
  await p.getByTestId('submit-student').click();
  const row = p.locator('tr[data-studentid="XSS-1"]');
  await row.waitFor();
  assert.equal(await row.locator('td[data-field="name"]').textContent(), xss);
  assert.equal(await row.locator('td[data-field="class"]').textContent(), '<b>bold</b>');
  assert.equal(await p.locator('#students-table img, #students-table b').count(), 0);
  assert.match(await p.getByTestId('status').textContent(), /<img src=x onerror=window.__xss=1>/);
  assert.equal(await p.evaluate(() => window.__xss), undefined);
  await assertClean(p, problems);
});

test('gateway errors read as sentences: 403, 429 throttle, 429 quota, 5xx, wrong route', async (t) => {
  const { page: p, problems } = await page(t, { allow: [403, 429, 502] });

  const api = await fakeApi({ key: 'right', students: makeStudents(3) });
  const server = await site(api.url);
  await gotoReady(p, server.url);
  await saveSettings(p, { apiUrl: api.url, apiKey: 'wrong' });
  assert.equal(await bannerText(p), 'The API key is missing or not valid. Check it in Settings.');
  await screenshot(p, 'ui-error-403');

  await saveSettings(p, { apiUrl: api.url.replace(/\/prod$/, '/staging'), apiKey: 'right' });
  assert.match(await bannerText(p), /does not lead to the student-records API/);

  // Reloading quickly runs into the throttle.
  await saveSettings(p, { apiUrl: api.url, apiKey: 'right' });
  let message = '';
  for (let i = 0; i < 40 && !message; i += 1) {
    const before = await loadsFinished(p);
    await p.getByTestId('reload-students').click();
    await waitForLoad(p, before);
    if (await p.getByTestId('error-banner').isVisible()) message = (await p.getByTestId('error-text').textContent()).trim();
  }
  assert.equal(message, 'Too many requests — try again in a moment.');
  assert.equal(await p.getByTestId('student-count').getAttribute('data-total'), '3', 'the list shown before stays');
  await screenshot(p, 'ui-error-429');

  // The day's quota allows the first visit's two calls (the students and the recent backups).
  const spent = await fakeApi({ key: 'right', quota: 2 });
  await saveSettings(p, { apiUrl: spent.url, apiKey: 'right' });
  await backupsSettled(p);
  assert.equal(await p.getByTestId('error-banner').isVisible(), false);
  await saveSettings(p, { apiUrl: spent.url, apiKey: 'right' });
  assert.equal(await bannerText(p), 'The daily request quota for this key is used up. Try again tomorrow (UTC).');

  const broken = await fakeApi({ key: 'right', failWith: 502 });
  await saveSettings(p, { apiUrl: broken.url, apiKey: 'right' });
  assert.equal(await bannerText(p), 'The service had a problem. Try again.');
  await p.getByTestId('error-dismiss').click();
  await p.getByTestId('error-banner').waitFor({ state: 'hidden' });
  await assertClean(p, problems);
});

/** Waits until the backup button is enabled again and the result or the error banner shows. */
async function backupEnded(p, timeout = 60_000) {
  await p.waitForFunction(
    () =>
      !document.querySelector('[data-testid="backup-button"]').disabled &&
      (!document.querySelector('[data-testid="backup-result"]').hidden || !document.querySelector('[data-testid="error-banner"]').hidden),
    null,
    { timeout },
  );
}

/** The text of each field of the list item of `backupId`. */
async function itemFields(p, backupId) {
  return p.$$eval(`li[data-backup-id="${backupId}"] [data-field]`, (nodes) => Object.fromEntries(nodes.map((n) => [n.dataset.field, n.textContent.trim()])));
}

test('backup answering 200: progress, then count, size, a link whose download has every student, and the list shows it', async (t) => {
  const api = await fakeApi({ key: 'k', students: makeStudents(1200), burst: 50, rate: 50 });
  const server = await site(api.url);
  const { page: p, problems } = await page(t);
  await gotoReady(p, server.url);
  await saveSettings(p, { apiUrl: api.url, apiKey: 'k' });
  assert.equal(await backupsSettled(p), 'ready');
  assert.equal(await p.getByTestId('backups-message').textContent(), 'There are no backups yet.');
  const buttonStates = await recordButtonStates(p, 'backup-button');
  await p.getByTestId('backup-button').click();
  await p.getByTestId('backup-link').waitFor({ state: 'visible' });
  const states = await buttonStates();
  assert.ok(states.includes('true:Backing up…'), `button states: ${states.join(', ')}`);
  assert.equal(await p.getByTestId('backup-button').isDisabled(), false);
  assert.equal(await p.getByTestId('backup-progress').isVisible(), false, 'a 200 is never shown as running');
  assert.equal((await p.getByTestId('backup-count').textContent()).trim(), '1,200');
  assert.match(await p.getByTestId('backup-size').textContent(), /^\d+(\.\d)? kB$/);
  assert.equal(await p.getByTestId('backup-email').textContent(), 'A notice was emailed.');
  const href = await p.getByTestId('backup-link').getAttribute('href');
  const download = await (await fetch(href)).json();
  assert.ok(Array.isArray(download));
  const ids = new Set(download.map((s) => s.studentid));
  const shown = await tableIds(p);
  assert.equal(shown.length, 1200);
  assert.deepEqual(shown.filter((id) => !ids.has(id)), []);

  // The list is loaded again and shows the new backup first, with its own fresh link.
  const [made] = api.backups();
  await p.locator(`li[data-backup-id="${made.backupId}"]`).waitFor();
  assert.deepEqual(await backupIds(p), [made.backupId]);
  const fields = await itemFields(p, made.backupId);
  assert.equal(fields.status, 'Succeeded');
  assert.equal(fields.count, '1,200');
  assert.equal(fields.size, (await p.getByTestId('backup-size').textContent()).trim());
  assert.equal(await p.locator(`li[data-backup-id="${made.backupId}"] code`).getAttribute('title'), made.sha256);
  const itemHref = await p.locator(`li[data-backup-id="${made.backupId}"] [data-testid="backup-item-link"]`).getAttribute('href');
  assert.notEqual(itemHref, href, 'a fresh link each time the list is read');
  assert.equal((await (await fetch(itemHref)).json()).length, 1200);
  assert.equal(api.log.filter((r) => r.method === 'GET' && r.path.startsWith('/prod/backups/')).length, 0, 'nothing to poll after a 200');
  await screenshot(p, 'ui-backup-done');
  await p.setViewportSize(PHONE);
  const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than a phone screen`);
  await screenshot(p, 'ui-backup-done-phone');
  await assertClean(p, problems);
});

test('backup answering 202: shown as running, polled every 2 s through a 429, then the result and the list', async (t) => {
  const api = await fakeApi({ key: 'k', students: makeStudents(40), backupMode: 'async', backupPolls: 2, throttlePolls: 1, burst: 50, rate: 50 });
  const server = await site(api.url);
  const { page: p, problems } = await page(t, { allow: [429] });
  await gotoReady(p, server.url);
  await saveSettings(p, { apiUrl: api.url, apiKey: 'k' });
  await backupsSettled(p);
  await p.getByTestId('backup-button').click();

  // Running: the id is shown, the button stays disabled, the list is not touched yet.
  await p.getByTestId('backup-progress').waitFor({ state: 'visible' });
  const [running] = api.backups();
  assert.equal(running.status, 'running');
  assert.equal(await p.getByTestId('backup-progress-id').textContent(), running.backupId);
  assert.match(await p.getByTestId('status').textContent(), new RegExp(`Backup ${running.backupId} is running`));
  assert.equal(await p.getByTestId('backup-button').isDisabled(), true);
  // The first check is throttled (429): the page says so and tries again later.
  await p.getByTestId('backup-progress-text').getByText(/asked this page to slow down; checking again in 5 seconds/).waitFor({ timeout: 10_000 });
  assert.equal(await p.getByTestId('error-banner').isVisible(), false, 'a 429 while following is not a failure');
  await p.getByTestId('backup-progress-text').getByText(/^Started .+\. Checking every 2 seconds…$/).waitFor({ timeout: 15_000 });
  assert.equal(await p.getByTestId('backup-button').isDisabled(), true);
  await screenshot(p, 'ui-backup-running');

  await backupEnded(p);
  assert.equal(await p.getByTestId('error-banner').isVisible(), false);
  assert.equal(await p.getByTestId('backup-progress').isVisible(), false);
  assert.equal(await p.getByTestId('backup-result').getAttribute('data-backup-id'), running.backupId);
  assert.equal((await p.getByTestId('backup-count').textContent()).trim(), '40');
  const [done] = api.backups();
  assert.equal(await p.getByTestId('backup-sha256').textContent(), done.sha256);
  assert.equal(await p.getByTestId('backup-location').textContent(), `backups/${running.backupId}.json`);
  assert.equal(await p.getByTestId('backup-email').isVisible(), false, 'the status does not say whether a notice was emailed');
  assert.match(await p.getByTestId('status').textContent(), /^Backup complete: 40 students, /);
  const download = await (await fetch(await p.getByTestId('backup-link').getAttribute('href'))).json();
  assert.equal(download.length, 40);

  // Polled at its statusUrl: 429, running, running, succeeded; about 2 s apart (5 s after the 429).
  const polls = api.log.filter((r) => r.method === 'GET' && r.path.startsWith('/prod/backups/'));
  assert.deepEqual(polls.map((r) => r.path), Array(4).fill(`/prod/backups/${running.backupId}`));
  assert.equal(api.log.filter((r) => r.method === 'POST').length, 1);
  await p.locator(`li[data-backup-id="${running.backupId}"][data-status="succeeded"] [data-testid="backup-item-link"]`).waitFor();
  await screenshot(p, 'ui-backup-polled-done');
  await assertClean(p, problems);
});

test('backup answering 202 and then failing: the reason in words, the list shows it failed', async (t) => {
  const api = await fakeApi({ key: 'k', students: makeStudents(5), backupMode: 'fail', backupPolls: 1, backupError: 'the bucket refused the upload (AccessDenied)' });
  const server = await site(api.url);
  const { page: p, problems } = await page(t);
  await gotoReady(p, server.url);
  await saveSettings(p, { apiUrl: api.url, apiKey: 'k' });
  await p.getByTestId('backup-button').click();
  await p.getByTestId('backup-progress').waitFor({ state: 'visible' });
  const [running] = api.backups();
  await backupEnded(p);
  assert.equal(await bannerText(p), `Backup ${running.backupId} failed: the bucket refused the upload (AccessDenied).`);
  assert.equal(await p.getByTestId('backup-result').isVisible(), false);
  assert.equal(await p.getByTestId('backup-progress').isVisible(), false);
  assert.equal(await p.getByTestId('backup-button').isDisabled(), false);
  const item = p.locator(`li[data-backup-id="${running.backupId}"][data-status="failed"]`);
  await item.waitFor();
  const fields = await itemFields(p, running.backupId);
  assert.equal(fields.status, 'Failed');
  assert.equal(fields.error, 'the bucket refused the upload (AccessDenied).');
  assert.equal(await item.locator('a').count(), 0, 'no download for a failed backup');
  await screenshot(p, 'ui-backup-failed');
  await assertClean(p, problems);
});

test('a backup already running (the schedule, another tab) is followed, not started again', async (t) => {
  const api = await fakeApi({ key: 'k', students: makeStudents(7) });
  const server = await site(api.url);
  const { page: p, problems } = await page(t);
  await gotoReady(p, server.url);
  const scheduled = api.scheduleBackup({ polls: 1 });
  await saveSettings(p, { apiUrl: api.url, apiKey: 'k' });
  await backupsSettled(p);
  const item = p.locator(`li[data-backup-id="${scheduled}"]`);
  assert.equal(await item.getAttribute('data-status'), 'running');
  assert.match(await item.textContent(), /Still running\. Choose “Back up now” to follow it\./);

  await p.getByTestId('backup-button').click();
  await p.getByTestId('backup-progress').waitFor({ state: 'visible' });
  assert.equal(await p.getByTestId('backup-progress-id').textContent(), scheduled);
  await backupEnded(p);
  assert.equal(await p.getByTestId('backup-result').getAttribute('data-backup-id'), scheduled);
  assert.equal((await p.getByTestId('backup-count').textContent()).trim(), '7');
  assert.equal(api.backups().length, 1, 'no second backup was started');
  await p.locator(`li[data-backup-id="${scheduled}"][data-status="succeeded"]`).waitFor();
  await assertClean(p, problems);
});

test('"Forget key" while a backup is followed stops following it', async (t) => {
  const api = await fakeApi({ key: 'k', students: makeStudents(3), backupMode: 'async', backupPolls: 1000 });
  const server = await site(api.url);
  const { page: p, problems } = await page(t);
  await gotoReady(p, server.url);
  await saveSettings(p, { apiUrl: api.url, apiKey: 'k' });
  await p.getByTestId('backup-button').click();
  await p.getByTestId('backup-progress-text').getByText(/^Started /).waitFor({ timeout: 10_000 });
  await p.getByTestId('forget-key').click();
  await p.getByTestId('backup-progress').waitFor({ state: 'hidden' });
  assert.equal(await p.getByTestId('backup-button').isDisabled(), false);
  assert.equal(await p.getByTestId('error-banner').isVisible(), false);
  assert.equal(await p.locator('[data-testid="backups-list"] li').count(), 0, 'the list goes with the key');
  const polls = () => api.log.filter((r) => r.method === 'GET' && r.path.startsWith('/prod/backups/')).length;
  const after = polls();
  await p.waitForTimeout(4500);
  assert.equal(polls(), after, 'no status read after the key was forgotten');
  await assertClean(p, problems);
});

test('before app.js runs, the forms cannot submit: no action, method post, buttons disabled until the script enables them', async (t) => {
  const server = await site(CLOSED_API);
  const context = await browser.newContext({ javaScriptEnabled: false });
  t.after(() => context.close());
  const p = await context.newPage();
  const requests = [];
  p.on('request', (request) => requests.push(request.url()));
  await p.goto(server.url);
  const settings = p.getByTestId('settings-form');
  assert.equal(await settings.getAttribute('action'), null, 'no action: a submission could only go to this page');
  assert.equal(await settings.getAttribute('method'), 'post', 'never into the URL');
  assert.equal(await p.getByTestId('add-form').getAttribute('method'), 'post');
  for (const id of ['save-settings', 'forget-key', 'submit-student']) assert.equal(await p.getByTestId(id).isDisabled(), true, id);

  // Enter in a field (implicit submission) and a forced click on the disabled button send nothing.
  const loaded = requests.length;
  await p.getByTestId('settings-api-key').fill('secret-key-value');
  await p.getByTestId('settings-api-key').press('Enter');
  await p.getByTestId('save-settings').click({ force: true });
  // Absence can only be shown by waiting: a submission would be a request within a moment.
  const submitted = await p.waitForRequest(() => true, { timeout: 1500 }).catch(() => null);
  assert.equal(submitted, null, `a request went out: ${submitted && submitted.url()}`);
  assert.deepEqual(requests.slice(loaded), []);
  assert.ok(!p.url().includes('secret-key-value'), p.url());
  assert.ok(requests.every((url) => !url.includes('secret-key-value')), requests.join('\n'));

  // With the script, the buttons work.
  const { page: live } = await page(t);
  await gotoReady(live, server.url);
  for (const id of ['save-settings', 'forget-key', 'submit-student']) assert.equal(await live.getByTestId(id).isEnabled(), true, id);
});

test('download links: https is followed; plain http only on 127.0.0.1 beside a local API; others shown as text', async (t) => {
  for (const [downloadOrigin, followed] of [['https://files.example', true], ['http://files.example', false]]) {
    const api = await fakeApi({ key: 'k', students: makeStudents(2), burst: 50, rate: 50, downloadOrigin });
    const server = await site(api.url);
    const { page: p, problems } = await page(t);
    await gotoReady(p, server.url);
    await saveSettings(p, { apiUrl: api.url, apiKey: 'k' });
    await p.getByTestId('backup-button').click();
    await p.getByTestId('backup-result').waitFor({ state: 'visible' });
    const item = p.locator('[data-testid="backups-list"] li').first();
    await item.waitFor();
    if (followed) {
      assert.match(await p.getByTestId('backup-link').getAttribute('href'), /^https:\/\/files\.example\/download\//);
      assert.equal(await p.getByTestId('backup-link-refused').isVisible(), false);
      assert.match(await item.locator('[data-testid="backup-item-link"]').getAttribute('href'), /^https:\/\/files\.example\//);
    } else {
      assert.equal(await p.getByTestId('backup-link').isVisible(), false, 'no link to follow');
      assert.match(
        await p.getByTestId('backup-link-refused').textContent(),
        /^The download link was not opened: only https: links are followed, and this one is http:\/\/files\.example\/download\/[0-9a-f]+$/,
      );
      await item.locator('[data-testid="backup-item-link-refused"]').waitFor();
      assert.equal(await item.locator('a').count(), 0);
      await screenshot(p, 'download-link-refused');
    }
    await assertClean(p, problems);
  }
});

/** `n` backups, newest first, an hour apart, alternating outcomes. */
function pastBackups(n, origin) {
  const start = Date.parse('2025-07-06T09:08:07Z');
  return Array.from({ length: n }, (_, i) => {
    const startedAt = new Date(start - i * 3600_000).toISOString();
    const backupId = makeBackupId(new Date(startedAt));
    const ok = i % 3 !== 1;
    return {
      backupId,
      status: ok ? 'succeeded' : 'failed',
      startedAt,
      finishedAt: new Date(Date.parse(startedAt) + 30_000).toISOString(),
      count: ok ? 1000 + i : null,
      bytes: ok ? 2_000_000 + i : null,
      sha256: ok ? `${String(i).padStart(2, '0')}${'ab'.repeat(31)}` : null,
      key: ok ? `backups/${backupId}.json` : null,
      downloadUrl: ok ? `${origin}/download/none-${i}` : null,
      expiresAt: ok ? new Date(Date.now() + 3600_000).toISOString() : null,
      ...(ok ? {} : { error: `the table could not be read (${i})` }),
    };
  });
}

test('recent backups: dates in the reader\'s locale, values as text only, "Show older backups", copy, phone width', async (t) => {
  const xss = '<img src=x onerror=window.__xss=1>';
  const hostile = [
    { backupId: `${xss}-1`, status: 'succeeded', startedAt: '2025-07-07T10:00:00Z', finishedAt: null, count: 3, bytes: 120, sha256: xss, key: xss, downloadUrl: 'javascript:window.__xss=2', expiresAt: null },
    { backupId: `${xss}-2`, status: 'failed', startedAt: xss, finishedAt: null, count: null, bytes: null, sha256: null, key: null, downloadUrl: null, expiresAt: null, error: xss },
    { backupId: `${xss}-3`, status: `<b>${xss}</b>`, startedAt: '2025-07-07T09:00:00Z', finishedAt: null, count: xss, bytes: null, sha256: null, key: null, downloadUrl: null, expiresAt: null },
    { backupId: `${xss}-4`, status: 'constructor', startedAt: '2025-07-07T08:00:00Z', finishedAt: null, count: null, bytes: null, sha256: null, key: null, downloadUrl: null, expiresAt: null },
  ];
  const past = pastBackups(21, 'http://127.0.0.1:9');
  const api = await fakeApi({ key: 'k', students: makeStudents(2), backups: [...hostile, ...past], burst: 50, rate: 50 });
  const server = await site(api.url);
  const { page: p, problems, context } = await page(t, { locale: 'de-DE', timezoneId: 'Europe/Berlin' });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(server.url).origin });
  await gotoReady(p, server.url);
  await saveSettings(p, { apiUrl: api.url, apiKey: 'k' });
  assert.equal(await backupsSettled(p), 'ready');

  // The first page: 10, newest first, with a way to the older ones.
  let ids = await backupIds(p);
  assert.equal(ids.length, 10);
  assert.deepEqual(ids.slice(0, 4), hostile.map((b) => b.backupId));
  assert.equal(await p.getByTestId('backups-message').textContent(), 'The 10 newest backups; older ones follow with “Show older backups”.');
  assert.equal(await p.getByTestId('backups-more').isVisible(), true);

  // Markup in any value is text: nothing is parsed, nothing runs, no javascript: link.
  const [first, second, third, fourth] = hostile.map((b) => p.locator(`li[data-backup-id="${b.backupId}"]`));
  assert.equal((await itemFields(p, hostile[0].backupId)).backupId, hostile[0].backupId);
  assert.equal(await first.locator('code').getAttribute('title'), xss);
  assert.equal(await first.locator('code').textContent(), '<img src=x o…');
  assert.equal(await first.locator('a').count(), 0, 'a javascript: URL is not made a link');
  assert.equal(await second.locator('[data-field="started"]').textContent(), xss);
  assert.equal(await second.locator('[data-field="error"]').textContent(), `${xss}.`);
  assert.equal(await third.locator('[data-field="status"]').textContent(), `<b>${xss}</b>`);
  assert.equal(await third.locator('[data-field="count"]').textContent(), xss);
  assert.equal(await fourth.locator('[data-field="status"]').textContent(), 'constructor', 'a status is looked up as a word, never as a property');
  assert.equal(await p.locator('[data-testid="backups-list"] img, [data-testid="backups-list"] b').count(), 0);
  assert.equal(await p.evaluate(() => window.__xss), undefined);

  // Dates are written the reader's way (here German, Berlin time), with the exact time in datetime.
  const old = past[0];
  const oldItem = p.locator(`li[data-backup-id="${old.backupId}"]`);
  const expected = new Intl.DateTimeFormat('de-DE', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'Europe/Berlin' }).format(new Date(old.startedAt));
  assert.equal(await oldItem.locator('time').textContent(), expected);
  assert.equal(expected, '06.07.2025, 11:08');
  assert.equal(await oldItem.locator('time').getAttribute('datetime'), old.startedAt);
  const fields = await itemFields(p, old.backupId);
  assert.deepEqual([fields.status, fields.count, fields.size], ['Succeeded', '1,000', '2 MB']);
  assert.equal(await oldItem.locator('[data-testid="backup-item-link"]').getAttribute('href'), 'http://127.0.0.1:9/download/none-0');
  assert.match(await oldItem.locator('[data-testid="backup-item-link"]').textContent(), /^Download the backup of 06\.07\.2025, 11:08 \(JSON\)$/);

  // The full SHA-256 is a title away, and one button from the clipboard.
  const copy = oldItem.locator('[data-testid="backup-copy-sha256"]');
  assert.equal(await oldItem.locator('code').getAttribute('title'), old.sha256);
  assert.equal(await oldItem.locator('code').textContent(), `${old.sha256.slice(0, 12)}…`);
  assert.equal((await copy.textContent()).trim(), `Copy the full SHA-256 of the backup of ${expected}`);
  await copy.click();
  await copy.getByText('Copied').waitFor();
  assert.equal(await p.evaluate(() => navigator.clipboard.readText()), old.sha256);
  await screenshot(p, 'ui-backups-list');

  // Older pages follow X-Next-Cursor; focus goes to the first new backup; the button goes at the end.
  await p.getByTestId('backups-more').focus();
  await p.keyboard.press('Enter');
  await p.waitForFunction(() => document.querySelectorAll('[data-testid="backups-list"] li').length === 20);
  ids = await backupIds(p);
  assert.equal(await p.evaluate(() => document.activeElement.getAttribute('data-backup-id')), ids[10]);
  await p.getByTestId('backups-more').click();
  await p.waitForFunction(() => document.querySelectorAll('[data-testid="backups-list"] li').length === 25);
  await p.getByTestId('backups-more').waitFor({ state: 'hidden' });
  assert.equal(await p.getByTestId('backups-message').textContent(), 'All 25 backups.');
  ids = await backupIds(p);
  assert.equal(new Set(ids).size, 25);
  const listCalls = api.log.filter((r) => r.method === 'GET' && r.path.startsWith('/prod/backups?')).map((r) => new URL(r.path, 'http://x').searchParams);
  assert.deepEqual(listCalls.map((q) => q.get('limit')), ['10', '10', '10']);
  assert.deepEqual(listCalls.map((q) => Boolean(q.get('cursor'))), [false, true, true]);

  // Refresh starts over at the newest page.
  await p.getByTestId('backups-refresh').click();
  await p.waitForFunction(() => document.querySelectorAll('[data-testid="backups-list"] li').length === 10);
  assert.equal(await backupsSettled(p), 'ready');

  // The keyboard reaches the list's copy buttons and links, each with a focus ring.
  await p.getByTestId('backups-refresh').focus();
  await p.keyboard.press('Tab');
  const focused = await p.evaluate(() => ({ testid: document.activeElement.dataset.testid, outline: getComputedStyle(document.activeElement).outlineStyle }));
  assert.deepEqual(focused, { testid: 'backup-copy-sha256', outline: 'solid' });

  await p.setViewportSize(PHONE);
  const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than a phone screen`);
  await p.locator('#backups-title').scrollIntoViewIfNeeded();
  await screenshot(p, 'ui-backups-list-phone');
  await assertClean(p, problems);
});

test('an API without GET /backups: the list says so, and backing up still works', async (t) => {
  const api = await fakeApi({ key: 'k', students: makeStudents(4), listsBackups: false });
  const server = await site(api.url);
  const { page: p, problems } = await page(t, { allow: [403] });
  await gotoReady(p, server.url);
  await saveSettings(p, { apiUrl: api.url, apiKey: 'k' });
  assert.equal(await backupsSettled(p), 'unsupported');
  assert.match(await p.getByTestId('backups-message').textContent(), /does not list past backups/);
  assert.equal(await p.getByTestId('error-banner').isVisible(), false);
  await p.getByTestId('backup-button').click();
  await backupEnded(p);
  assert.equal((await p.getByTestId('backup-count').textContent()).trim(), '4');
  assert.equal(await backupsSettled(p), 'unsupported');
  await assertClean(p, problems);
});
