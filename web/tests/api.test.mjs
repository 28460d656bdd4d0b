// Browser tests against the real stack (the local API and the page as served beside it).
//
// Reads WEB_URL (optional: without it the built web/dist is served here, with config.json
// pointing at API_URL), API_URL and API_KEY from the environment, or from the file named by
// STACK_ENV (lines API_URL=…), or from .local/stack.env. Without them every test here is
// skipped with the reason. The tests add students with unique IDs (prefix WT-) to the stack.
//
// Order matters: the throttle test (6) runs after the others, since it spends the burst.
//
// scripts/test starts this stack with `--backup-wait 0`, so POST /backup answers 202 and the
// page follows the backup's status URL to its end (test 7); the list of recent backups then
// shows it.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { startServer } from './serve.mjs';
import {
  DIST_DIR,
  fillStudent,
  gotoReady,
  launchBrowser,
  loadsFinished,
  openPage,
  recordButtonStates,
  saveSettings,
  screenshot,
  stackConfig,
  tableIds,
  uniqueId,
  waitForLoad,
} from './helpers.mjs';

const stack = stackConfig();
const skip = stack.missing || false;

let browser;
let server;
let webUrl = stack.webUrl;
/** Console problems from every test, checked by the last test. */
const problems = [];

before(async () => {
  if (skip) return;
  if (!webUrl) {
    if (!existsSync(join(DIST_DIR, 'index.html'))) throw new Error(`${DIST_DIR} is not built: run web/build.sh first (or set WEB_URL)`);
    server = await startServer({ root: DIST_DIR, port: 0, config: { apiUrl: stack.apiUrl } });
    webUrl = server.url;
  }
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.close();
});

// The usage plan refills 5 requests a second up to a burst of 10, and each test below sends at
// most 4 before the throttle test. Starting each test 2.2 s after the previous one ended keeps
// them from being throttled by each other; this paces requests, it waits for nothing.
const REFILL_MS = 2200;
let lastTestEnded = 0;
async function paceForThrottle() {
  const wait = lastTestEnded + REFILL_MS - Date.now();
  if (wait > 0) await new Promise((resolveWait) => setTimeout(resolveWait, wait));
}

/** A fresh page (empty storage) whose console errors are collected, bar the `allow`ed statuses. */
async function open(t, allow = []) {
  await paceForThrottle();
  const opened = await openPage(browser, { label: t.name, allow });
  t.after(async () => {
    problems.push(...opened.problems);
    await opened.context.close();
    lastTestEnded = Date.now();
  });
  await gotoReady(opened.page, webUrl);
  return opened.page;
}

/** Enters the API URL and key in Settings and waits for the list to load completely. */
async function connect(page, apiKey = stack.apiKey) {
  await saveSettings(page, { apiUrl: stack.apiUrl, apiKey });
}

async function assertLoaded(page) {
  const state = await page.getByTestId('student-count').getAttribute('data-state');
  if (state !== 'ready') {
    const banner = (await page.getByTestId('error-banner').isVisible()) ? await page.getByTestId('error-text').textContent() : '';
    assert.fail(`the student list did not load (state ${state}): ${banner}`);
  }
}

async function total(page) {
  return Number(await page.getByTestId('student-count').getAttribute('data-total'));
}

function newStudent(overrides = {}) {
  const studentid = uniqueId('WT');
  return {
    studentid,
    name: 'Web Test Student',
    class: '12A1',
    birthdate: '2007-05-21',
    email: `${studentid.toLowerCase()}@example.com`,
    ...overrides,
  };
}

/** Submits the form and waits for the outcome: the success status or the error banner. */
async function submit(page) {
  await page.getByTestId('submit-student').click();
  await page.waitForFunction(
    () =>
      /was added/.test(document.querySelector('[data-testid="status"]').textContent) ||
      !document.querySelector('[data-testid="error-banner"]').hidden,
    null,
    { timeout: 30_000 },
  );
}

async function banner(page) {
  await page.getByTestId('error-banner').waitFor({ state: 'visible', timeout: 30_000 });
  return (await page.getByTestId('error-text').textContent()).trim();
}

test('1. with the key entered in Settings, an added student appears in the table and the count goes up', { skip }, async (t) => {
  const page = await open(t);
  await page.getByTestId('settings-api-url').fill(stack.apiUrl);
  await page.getByTestId('settings-api-key').fill(stack.apiKey);
  await screenshot(page, 'settings-filled');
  const before = await loadsFinished(page);
  await page.getByTestId('save-settings').click();
  await waitForLoad(page, before);
  await assertLoaded(page);
  await screenshot(page, 'table-loaded');
  const count = await total(page);
  assert.equal((await tableIds(page)).length, count, 'the table shows every student loaded');

  const student = newStudent();
  await fillStudent(page, student);
  await submit(page);
  const status = (await page.getByTestId('status').textContent()).trim();
  assert.match(status, new RegExp(`Student ${student.studentid} \\(Web Test Student\\) was added`), status);
  assert.match(status, /confirmation email was sent|but confirmation email not sent/, 'says whether the email went out');
  const row = page.locator(`tr[data-studentid="${student.studentid}"]`);
  await row.waitFor();
  assert.equal(await row.locator('td[data-field="email"]').textContent(), student.email);
  assert.equal(await total(page), count + 1);
  await screenshot(page, 'add-success');

  // Loaded again from the API, the student is there.
  const beforeReload = await loadsFinished(page);
  await page.getByTestId('reload-students').click();
  await waitForLoad(page, beforeReload);
  await assertLoaded(page);
  assert.ok((await tableIds(page)).includes(student.studentid), 'the reloaded list has the new student');
});

test('2. a name with markup is shown as literal text and runs nothing', { skip }, async (t) => {
  const page = await open(t);
  await connect(page);
  await assertLoaded(page);
  const name = '<img src=x onerror=window.__xss=1>';
  const student = newStudent({ name });
  await fillStudent(page, student);
  await submit(page);
  assert.match(await page.getByTestId('status').textContent(), /was added/);

  const check = async () => {
    const row = page.locator(`tr[data-studentid="${student.studentid}"]`);
    await row.waitFor();
    assert.equal(await row.locator('td[data-field="name"]').textContent(), name);
    assert.equal(await page.locator('#students-table img').count(), 0, 'no <img> in the table');
    assert.equal(await page.locator('img').count(), 0, 'no <img> anywhere');
    assert.equal(await page.evaluate(() => window.__xss), undefined);
  };
  await check();
  // As read back from the API on a new visit (the key is kept, so the list loads by itself).
  await page.reload();
  await page.locator('html[data-ready="true"]').waitFor();
  await page.locator('[data-testid="student-count"][data-state="ready"]').waitFor({ timeout: 60_000 });
  await check();
});

test('3. invalid input shows the per-field errors and sends nothing', { skip }, async (t) => {
  const page = await open(t);
  await connect(page);
  await assertLoaded(page);
  const posts = [];
  page.on('request', (request) => {
    if (request.method() === 'POST' && new URL(request.url()).pathname.endsWith('/students')) posts.push(request.url());
  });
  await fillStudent(page, { studentid: 'bad id!', name: '   ', class: 'C'.repeat(51), birthdate: '2023-02-30', email: 'not-an-email' });
  const expected = {
    studentid: /may contain only letters/,
    name: /Name is required/,
    class: /at most 50 characters/,
    birthdate: /not a real calendar date/,
    email: /valid address/,
  };
  for (const [field, pattern] of Object.entries(expected)) {
    const message = page.getByTestId(`field-error-${field}`);
    await message.waitFor({ state: 'visible' });
    assert.match(await message.textContent(), pattern, field);
    assert.equal(await page.getByTestId(`field-${field}`).getAttribute('aria-invalid'), 'true', field);
    const describedBy = (await page.getByTestId(`field-${field}`).getAttribute('aria-describedby')).split(/\s+/);
    assert.ok(describedBy.includes(await message.getAttribute('id')), `${field} is described by its message`);
  }
  await page.getByTestId('submit-student').click();
  await page.getByTestId('status').getByText(/Please correct/).waitFor();
  await screenshot(page, 'form-errors');
  assert.deepEqual(posts, [], 'no POST /students may be sent');
});

test('4. a duplicate student ID says so', { skip }, async (t) => {
  const page = await open(t, [409]);
  await connect(page);
  await assertLoaded(page);
  const student = newStudent();
  await fillStudent(page, student);
  await submit(page);
  assert.match(await page.getByTestId('status').textContent(), /was added/);
  const count = await total(page);

  await fillStudent(page, { ...newStudent(), studentid: student.studentid });
  await submit(page);
  assert.match(await banner(page), new RegExp(`^A student with ID ${student.studentid} already exists`));
  assert.match(await page.getByTestId('field-error-studentid').textContent(), new RegExp(`A student with ID ${student.studentid} already exists`));
  assert.equal(await total(page), count, 'nothing was added');
});

test('5. a wrong API key gets the 403 message', { skip }, async (t) => {
  const page = await open(t, [403]);
  await connect(page, `wrong-${uniqueId('KEY')}`);
  assert.equal(await banner(page), 'The API key is missing or not valid. Check it in Settings.');
  assert.equal(await page.getByTestId('student-count').getAttribute('data-state'), 'error');
  await screenshot(page, 'error-403');
});

test('7. a backup that answers 202 is followed to its end, listed, and its link downloads every student', { skip }, async (t) => {
  const page = await open(t);
  await connect(page);
  await assertLoaded(page);
  await page.getByTestId('search').fill('');
  const shown = await tableIds(page);
  assert.equal(shown.length, await total(page));

  const buttonStates = await recordButtonStates(page, 'backup-button');
  const progressShown = page.getByTestId('backup-progress').waitFor({ state: 'visible', timeout: 120_000 }).then(() => true, () => false);
  await page.getByTestId('backup-button').click();
  await page.waitForFunction(
    () => !document.querySelector('[data-testid="backup-result"]').hidden || !document.querySelector('[data-testid="error-banner"]').hidden,
    null,
    { timeout: 120_000 },
  );
  if (await page.getByTestId('error-banner').isVisible()) assert.fail(`backup failed: ${await page.getByTestId('error-text').textContent()}`);
  const states = await buttonStates();
  assert.ok(states.includes('true:Backing up…'), `the button showed progress (states: ${states.join(', ')})`);
  assert.ok(await progressShown, 'the 202 was shown as a running backup');
  const backupId = await page.getByTestId('backup-result').getAttribute('data-backup-id');
  assert.match(backupId, /^backup-\d{8}-\d{6}-[0-9a-f]{8}$/);
  await page.locator(`[data-backup-id="${backupId}"][data-testid="backup-item"]`).waitFor({ state: 'visible', timeout: 30_000 });

  const link = page.getByTestId('backup-link');
  assert.equal(await link.evaluate((a) => a.tagName), 'A');
  const href = await link.getAttribute('href');
  assert.match(href, /^https?:\/\//);
  const response = await fetch(href);
  assert.equal(response.status, 200, `download ${href}`);
  const backup = JSON.parse(await response.text());
  assert.ok(Array.isArray(backup), 'the download is a JSON array');
  const ids = new Set(backup.map((s) => s.studentid));
  const missing = shown.filter((id) => !ids.has(id));
  assert.deepEqual(missing, [], 'every student in the table is in the backup');
  const count = Number((await page.getByTestId('backup-count').textContent()).replace(/[^\d]/g, ''));
  assert.equal(count, backup.length, 'the count shown is the number of students downloaded');
  assert.match(await page.getByTestId('backup-size').textContent(), /\d\s?(bytes?|kB|MB|GB)$/);
  await screenshot(page, 'backup-done');
});

test('6. a burst of reloads gets the 429 message', { skip }, async (t) => {
  const page = await open(t, [429]);
  await connect(page);
  await assertLoaded(page);
  const started = Date.now();
  let message = '';
  let reloads = 0;
  // The usage plan allows 5 requests/s with a burst of 10: quick reloads must hit it.
  while (!message && reloads < 80 && Date.now() - started < 60_000) {
    const before = await loadsFinished(page);
    await page.getByTestId('reload-students').click();
    await waitForLoad(page, before);
    reloads += 1;
    if (await page.getByTestId('error-banner').isVisible()) message = (await page.getByTestId('error-text').textContent()).trim();
  }
  assert.ok(message, `no error after ${reloads} reloads in ${Date.now() - started} ms: is the throttle (5 req/s, burst 10) in place?`);
  assert.equal(message, 'Too many requests — try again in a moment.');
  await screenshot(page, 'error-429');
});

test('8. no console errors on the way, apart from the deliberate 403/409/429 responses', { skip }, (t) => {
  assert.deepEqual(problems, []);
});
