// Shared pieces of the browser tests: finding the stack, launching Debian's Chromium through
// playwright-core, watching the console, and screenshots.

import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { FIELDS } from '../src/validate.js';

export const WEB_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const DIST_DIR = join(WEB_DIR, 'dist');
export const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR ?? resolve(WEB_DIR, '..', '.local', 'screenshots');
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Lines `NAME=value` (optionally `export NAME=value`, quoted values) into an object. */
export function parseEnvFile(text) {
  const out = {};
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (!line || line.startsWith('#')) continue;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!match) continue;
    let value = match[2].trim();
    if ((value.startsWith('"') && value.endsWith('"') && value.length >= 2) || (value.startsWith("'") && value.endsWith("'") && value.length >= 2)) {
      value = value.slice(1, -1);
    } else {
      value = value.replace(/\s+#.*$/, '');
    }
    out[match[1]] = value;
  }
  return out;
}

/**
 * The stack to test: WEB_URL, API_URL and API_KEY from the environment, else from the file
 * named by STACK_ENV, else from .local/stack.env beside web/. `missing` explains what is absent.
 */
export function stackConfig(env = process.env) {
  let fileVars = {};
  let source = 'environment';
  const file = env.STACK_ENV || resolve(WEB_DIR, '..', '.local', 'stack.env');
  if (!(env.API_URL && env.API_KEY) && existsSync(file)) {
    fileVars = parseEnvFile(readFileSync(file, 'utf8'));
    source = `environment and ${file}`;
  } else if (!(env.API_URL && env.API_KEY)) {
    source = `the environment and ${file} (${env.STACK_ENV ? 'STACK_ENV names a file that does not exist' : 'absent'})`;
  }
  const pick = (name) => env[name] || fileVars[name] || '';
  const config = { webUrl: pick('WEB_URL'), apiUrl: pick('API_URL').replace(/\/+$/, ''), apiKey: pick('API_KEY'), source };
  const absent = ['API_URL', 'API_KEY'].filter((name) => !pick(name));
  config.missing = absent.length
    ? `needs the running stack: set ${absent.join(' and ')} (and optionally WEB_URL), or STACK_ENV=<file with API_URL=… lines>; looked in ${source}`
    : '';
  return config;
}

/** Launches Chromium; Playwright gives each launch a fresh temporary profile directory. */
export async function launchBrowser() {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium is not at ${CHROMIUM_PATH}: install it with 'apt-get install -y chromium' or set CHROMIUM_PATH`);
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
}

export const DESKTOP = { width: 1280, height: 900 };
export const PHONE = { width: 390, height: 844 };

/**
 * A new browser context (empty storage: every test starts as a first visit) and page, with
 * console watching (see watchConsole) and a record of Content-Security-Policy violations.
 */
export async function openPage(browser, { viewport = DESKTOP, allow = [], label = '', isMobile = false, locale, timezoneId } = {}) {
  const context = await browser.newContext({ viewport, isMobile, hasTouch: isMobile, deviceScaleFactor: 1, locale, timezoneId });
  await context.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (event) => {
      window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
    });
  });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  const problems = watchConsole(page, { allow, label });
  return { context, page, problems };
}

/** Opens the page and waits until its start-up (config.json, storage) is done. */
export async function gotoReady(page, url) {
  await page.goto(url);
  await page.locator('html[data-ready="true"]').waitFor({ timeout: 15_000 });
}

const STATUS_LINE = /status of (\d{3})/;

/**
 * Records console errors and page errors. `allow` lists HTTP statuses (e.g. 403) whose
 * "Failed to load resource" messages are expected, and 'net' for refused connections.
 * Returns the list of unexpected problems, kept up to date.
 */
export function watchConsole(page, { allow = [], label = '' } = {}) {
  const problems = [];
  page.on('console', (message) => {
    if (message.type() !== 'error' && message.type() !== 'warning') return;
    const text = message.text();
    const status = STATUS_LINE.exec(text);
    if (status && allow.includes(Number(status[1]))) return;
    if (allow.includes('net') && /net::ERR_(CONNECTION_REFUSED|CONNECTION_RESET|ADDRESS_UNREACHABLE|UNSAFE_PORT|FAILED)/.test(text)) return;
    if (message.type() === 'warning') {
      // Warnings are not failures, except a Content-Security-Policy report.
      if (!/Content Security Policy|Refused to/i.test(text)) return;
    }
    problems.push(`${label ? label + ': ' : ''}console.${message.type()}: ${text}${message.location()?.url ? ` (${message.location().url})` : ''}`);
  });
  page.on('pageerror', (error) => problems.push(`${label ? label + ': ' : ''}pageerror: ${error.message}`));
  return problems;
}

/** Saves a PNG of the whole page under SCREENSHOT_DIR. */
export async function screenshot(page, name) {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Fills Settings and saves; waits until the first load finished (ready or error). */
export async function saveSettings(page, { apiUrl, apiKey }) {
  const before = Number((await page.getByTestId('student-count').getAttribute('data-loads-finished')) ?? '0');
  await page.getByTestId('settings-api-url').fill(apiUrl);
  await page.getByTestId('settings-api-key').fill(apiKey);
  await page.getByTestId('save-settings').click();
  await waitForLoad(page, before);
}

/** Waits until the student list has finished a load after `before` finished loads. */
export async function waitForLoad(page, before, timeout = 60_000) {
  await page.waitForFunction(
    (n) => {
      const el = document.querySelector('[data-testid="student-count"]');
      return el && el.dataset.state !== 'loading' && Number(el.dataset.loadsFinished ?? 0) > n;
    },
    before,
    { timeout },
  );
}

export async function loadsFinished(page) {
  return Number((await page.getByTestId('student-count').getAttribute('data-loads-finished')) ?? '0');
}

/** The student IDs the table shows, in order. */
export async function tableIds(page) {
  return page.$$eval('[data-testid="students-body"] tr[data-studentid]', (rows) => rows.map((r) => r.getAttribute('data-studentid')));
}

/** A student ID unlikely to exist: a prefix, the time and a random part. */
export function uniqueId(prefix = 'WT') {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`.toUpperCase();
}

/** Fills the add-student form (values as given, no checks). */
export async function fillStudent(page, student) {
  for (const field of FIELDS) {
    await page.getByTestId(`field-${field}`).fill(student[field]);
  }
}

/**
 * Starts recording every state (`disabled:text`) the button `testId` passes through; returns a
 * function that reads the states so far.
 */
export async function recordButtonStates(page, testId) {
  await page.evaluate((id) => {
    window.__buttonStates = [];
    const button = document.querySelector(`[data-testid="${id}"]`);
    new MutationObserver(() => window.__buttonStates.push(`${button.disabled}:${button.textContent.trim()}`)).observe(button, {
      attributes: true,
      childList: true,
      subtree: true,
      characterData: true,
    });
  }, testId);
  return () => page.evaluate(() => window.__buttonStates);
}

/** Waits until the list of recent backups has finished loading; resolves to its state. */
export async function backupsSettled(page, timeout = 30_000) {
  await page.waitForFunction(
    () => {
      const el = document.querySelector('[data-testid="backups-message"]');
      return el && el.dataset.state !== 'loading' && el.dataset.state !== 'idle';
    },
    null,
    { timeout },
  );
  return page.getByTestId('backups-message').getAttribute('data-state');
}

/** The backup ids the recent-backups list shows, in order. */
export async function backupIds(page) {
  return page.$$eval('[data-testid="backups-list"] li[data-backup-id]', (items) => items.map((li) => li.getAttribute('data-backup-id')));
}
