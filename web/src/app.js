// Student Records page. Every value that comes from the API is written with textContent or
// setAttribute, never parsed as HTML.

import { ApiError, createClient, describeError, normalizeApiUrl } from './api.js';
import { FIELDS, LABELS, checkField, checkStudent, toRequestBody } from './validate.js';

const STORAGE_KEY = 'studentRecords.apiKey';
const STORAGE_URL = 'studentRecords.apiUrl';
const PAGE_SIZE = 1000;

const numbers = new Intl.NumberFormat('en-US');
/** Dates in the list of backups, in the reader's own locale and time zone. */
const listDates = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const BACKUPS_PAGE = 10;
const POLL_SECONDS = 2;
const POLL_LIMIT_MINUTES = 15;
const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });

const $ = (id) => {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element;
};

const ui = {
  errorBanner: $('error-banner'),
  errorText: $('error-text'),
  errorDismiss: $('error-dismiss'),
  status: $('status'),
  settingsForm: $('settings-form'),
  saveSettings: $('save-settings'),
  apiUrl: $('settings-api-url'),
  apiUrlError: $('settings-error-api-url'),
  apiKey: $('settings-api-key'),
  apiKeyError: $('settings-error-api-key'),
  showKey: $('settings-show-key'),
  forgetKey: $('forget-key'),
  addForm: $('add-form'),
  submit: $('submit-student'),
  backupButton: $('backup-button'),
  backupResult: $('backup-result'),
  backupSummary: $('backup-summary'),
  backupCount: $('backup-count'),
  backupSize: $('backup-size'),
  backupExpires: $('backup-expires'),
  backupLocation: $('backup-location'),
  backupSha: $('backup-sha256'),
  backupEmail: $('backup-email'),
  backupEmailLabel: $('backup-email-label'),
  backupLink: $('backup-link'),
  backupLinkRefused: $('backup-link-refused'),
  backupProgress: $('backup-progress'),
  backupProgressId: $('backup-progress-id'),
  backupProgressText: $('backup-progress-text'),
  backupsRefresh: $('backups-refresh'),
  backupsMessage: $('backups-message'),
  backupsList: $('backups-list'),
  backupsMore: $('backups-more'),
  count: $('student-count'),
  countText: $('student-count-text'),
  spinner: $('students-spinner'),
  reload: $('reload-students'),
  search: $('search'),
  table: $('students-table'),
  tbody: $('students-body'),
  scroll: $('students-scroll'),
  fields: Object.fromEntries(FIELDS.map((f) => [f, $(`field-${f}`)])),
  fieldErrors: Object.fromEntries(FIELDS.map((f) => [f, $(`field-error-${f}`)])),
};

const state = {
  configApiUrl: '',
  apiUrl: '',
  apiKey: '',
  /** studentid → student, what the table shows. */
  students: new Map(),
  /** True once one full load finished (the list is complete). */
  complete: false,
  /** The load in progress: { next: Map, controller }. */
  loading: null,
  loadsFinished: 0,
  lastLoadFailed: false,
  sort: { key: 'studentid', dir: 'ascending' },
  query: '',
  highlight: null,
  adding: false,
  /** The backup being made or followed: its AbortController, or null. */
  backingUp: null,
  /** The list of recent backups: what is shown, the next page's cursor, the load in progress. */
  backups: { items: [], nextCursor: null, loading: null, loaded: false },
};

// ---------------------------------------------------------------- storage

function storageGet(key) {
  try {
    return window.localStorage.getItem(key) ?? '';
  } catch {
    return '';
  }
}

function storageSet(key, value) {
  try {
    if (value) window.localStorage.setItem(key, value);
    else window.localStorage.removeItem(key);
  } catch {
    // Storage may be disabled; the values still work for this visit.
  }
}

// ---------------------------------------------------------------- messages

function showError(message) {
  ui.errorText.textContent = message;
  ui.errorBanner.hidden = false;
}

function clearError() {
  ui.errorText.textContent = '';
  ui.errorBanner.hidden = true;
}

const STATUS_TONES = {
  success: 'mb-4 rounded-lg border border-emerald-300 bg-emerald-50 p-4 text-sm font-medium text-emerald-900',
  warning: 'mb-4 rounded-lg border border-amber-300 bg-amber-50 p-4 text-sm font-medium text-amber-950',
  info: 'mb-4 rounded-lg border border-slate-300 bg-white p-4 text-sm font-medium text-slate-800',
};

function showStatus(message, tone = 'info') {
  const p = document.createElement('p');
  p.className = STATUS_TONES[tone] ?? STATUS_TONES.info;
  p.dataset.tone = tone;
  p.textContent = message;
  ui.status.replaceChildren(p);
}

function clearStatus() {
  ui.status.replaceChildren();
}

function setBusy(button, busy, busyLabel, idleLabel) {
  button.disabled = busy;
  button.setAttribute('aria-busy', busy ? 'true' : 'false');
  const spinner = button.querySelector('[data-spinner]');
  if (spinner) spinner.toggleAttribute('hidden', !busy);
  const label = button.querySelector('[data-label]');
  if (label) label.textContent = busy ? busyLabel : idleLabel;
}

/** Puts focus back on `element` when disabling it dropped focus to the page. */
function restoreFocus(element) {
  if (document.activeElement === document.body || document.activeElement === null) element.focus();
}

// ---------------------------------------------------------------- settings

function setFieldMessage(input, messageElement, message) {
  if (message) {
    input.setAttribute('aria-invalid', 'true');
    messageElement.textContent = message;
    messageElement.hidden = false;
  } else {
    input.setAttribute('aria-invalid', 'false');
    messageElement.textContent = '';
    messageElement.hidden = true;
  }
}

function client() {
  return createClient({ apiUrl: state.apiUrl, apiKey: state.apiKey });
}

/** True when the settings allow calling the API; otherwise says what is missing. */
function settingsReady({ announce = true } = {}) {
  if (state.apiUrl && state.apiKey) return true;
  if (announce) {
    showError(
      state.apiUrl
        ? 'Enter the API key in Settings first.'
        : 'Enter the API URL and the API key in Settings first.',
    );
  }
  return false;
}

function onSaveSettings(event) {
  event.preventDefault();
  clearError();
  const url = normalizeApiUrl(ui.apiUrl.value);
  const key = ui.apiKey.value.trim();
  setFieldMessage(
    ui.apiUrl,
    ui.apiUrlError,
    url ? '' : 'Enter the API URL, starting with http:// or https://, for example https://example.com/prod.',
  );
  setFieldMessage(ui.apiKey, ui.apiKeyError, key ? '' : 'Enter the API key.');
  if (!url) {
    ui.apiUrl.focus();
    return;
  }
  if (!key) {
    ui.apiKey.focus();
    return;
  }
  state.apiUrl = url;
  state.apiKey = key;
  ui.apiUrl.value = url;
  ui.apiKey.value = key;
  // The URL is remembered only when it differs from this site's own configuration.
  storageSet(STORAGE_URL, url === state.configApiUrl ? '' : url);
  storageSet(STORAGE_KEY, key);
  showStatus('Settings saved. Loading the students…');
  loadStudents();
  loadBackups();
}

function onForgetKey() {
  storageSet(STORAGE_KEY, '');
  state.apiKey = '';
  ui.apiKey.value = '';
  setFieldMessage(ui.apiKey, ui.apiKeyError, '');
  cancelLoad();
  if (state.backingUp) state.backingUp.abort();
  resetBackups();
  state.students = new Map();
  state.complete = false;
  renderTable();
  setCount();
  clearError();
  showStatus('The API key was removed from this browser.');
  ui.apiKey.focus();
}

// ---------------------------------------------------------------- students table

function asStudent(raw) {
  const text = (v) => (v === null || v === undefined ? '' : String(v));
  return {
    studentid: text(raw.studentid),
    name: text(raw.name),
    class: text(raw.class),
    birthdate: text(raw.birthdate),
    email: text(raw.email),
  };
}

const haystacks = new WeakMap();
function haystack(student) {
  let text = haystacks.get(student);
  if (text === undefined) {
    text = FIELDS.map((f) => student[f]).join('\u0000').toLocaleLowerCase();
    haystacks.set(student, text);
  }
  return text;
}

function visibleStudents() {
  const query = state.query.trim().toLocaleLowerCase();
  const list = [];
  for (const student of state.students.values()) {
    if (!query || haystack(student).includes(query)) list.push(student);
  }
  const { key, dir } = state.sort;
  const sign = dir === 'descending' ? -1 : 1;
  list.sort((a, b) => sign * (collator.compare(a[key], b[key]) || collator.compare(a.studentid, b.studentid)));
  return list;
}

const CELL_CLASSES = {
  studentid: 'border-b border-slate-100 px-4 py-2.5 font-mono text-xs whitespace-nowrap text-slate-800',
  name: 'min-w-48 border-b border-slate-100 px-4 py-2.5 font-medium text-slate-900',
  class: 'border-b border-slate-100 px-4 py-2.5 whitespace-nowrap text-slate-700',
  birthdate: 'border-b border-slate-100 px-4 py-2.5 font-mono text-xs whitespace-nowrap text-slate-700',
  email: 'border-b border-slate-100 px-4 py-2.5 whitespace-nowrap text-slate-700',
};
const ROW_CLASS = 'hover:bg-slate-50';
const NEW_ROW_CLASS = 'bg-emerald-50 hover:bg-emerald-100';

function emptyRow(message) {
  const tr = document.createElement('tr');
  const td = document.createElement('td');
  td.colSpan = FIELDS.length;
  td.className = 'px-4 py-10 text-left text-sm text-slate-600 sm:text-center';
  td.textContent = message;
  tr.append(td);
  return tr;
}

function renderTable() {
  const list = visibleStudents();
  const fragment = document.createDocumentFragment();
  for (const student of list) {
    const tr = document.createElement('tr');
    tr.dataset.testid = 'student-row';
    tr.setAttribute('data-studentid', student.studentid);
    tr.className = student.studentid === state.highlight ? NEW_ROW_CLASS : ROW_CLASS;
    for (const field of FIELDS) {
      const td = document.createElement('td');
      td.className = CELL_CLASSES[field];
      td.dataset.field = field;
      td.textContent = student[field];
      tr.append(td);
    }
    fragment.append(tr);
  }
  if (list.length === 0) {
    let message;
    if (state.loading && state.students.size === 0) message = 'Loading the students…';
    else if (!state.apiKey || !state.apiUrl) message = 'Enter the API URL and key in Settings to see the students.';
    else if (state.students.size === 0) message = state.complete ? 'There are no students yet.' : 'No students loaded.';
    else message = `No student matches “${state.query.trim()}”.`;
    fragment.append(emptyRow(message));
  }
  ui.tbody.replaceChildren(fragment);
  ui.count.dataset.shown = String(list.length);
  setCount();
  renderSortHeaders();
}

function plural(n, one, many) {
  return `${numbers.format(n)} ${n === 1 ? one : many}`;
}

function setCount() {
  const total = state.students.size;
  const shown = Number(ui.count.dataset.shown ?? total);
  let text;
  let phase;
  if (state.loading) {
    phase = 'loading';
    const sofar = state.loading.next.size;
    text = sofar === 0 ? 'Loading…' : `Loading… ${plural(sofar, 'student', 'students')} so far`;
  } else if (!state.complete && total === 0) {
    phase = state.lastLoadFailed ? 'error' : 'idle';
    text = state.lastLoadFailed ? 'The students could not be loaded.' : 'Not loaded yet.';
  } else {
    phase = state.lastLoadFailed ? 'error' : 'ready';
    text = state.query.trim() ? `Showing ${numbers.format(shown)} of ${plural(total, 'student', 'students')}` : plural(total, 'student', 'students');
    if (!state.complete) text += ' (the list is incomplete)';
  }
  ui.countText.textContent = text;
  ui.count.dataset.state = phase;
  ui.count.dataset.total = String(total);
  ui.count.dataset.loadsFinished = String(state.loadsFinished);
  ui.spinner.toggleAttribute('hidden', phase !== 'loading');
  ui.scroll.setAttribute('aria-busy', phase === 'loading' ? 'true' : 'false');
}

function renderSortHeaders() {
  for (const th of ui.table.querySelectorAll('thead th[data-col]')) {
    const col = th.dataset.col;
    const active = col === state.sort.key;
    th.setAttribute('aria-sort', active ? state.sort.dir : 'none');
    const arrow = th.querySelector('[data-arrow]');
    if (arrow) arrow.textContent = active ? (state.sort.dir === 'ascending' ? '▲' : '▼') : '';
  }
}

function onSortClick(event) {
  const button = event.target.closest('button[data-sort]');
  if (!button) return;
  const key = button.dataset.sort;
  if (state.sort.key === key) {
    state.sort.dir = state.sort.dir === 'ascending' ? 'descending' : 'ascending';
  } else {
    state.sort = { key, dir: 'ascending' };
  }
  renderTable();
}

let searchTimer = 0;
function onSearch() {
  window.clearTimeout(searchTimer);
  // A short pause keeps typing smooth with many thousands of rows.
  searchTimer = window.setTimeout(() => {
    state.query = ui.search.value;
    renderTable();
  }, state.students.size > 2000 ? 150 : 0);
}

function cancelLoad() {
  if (state.loading) {
    state.loading.controller.abort();
    state.loading = null;
  }
}

async function loadStudents() {
  if (!settingsReady()) {
    renderTable();
    return;
  }
  cancelLoad();
  const api = client();
  const controller = new AbortController();
  const load = { next: new Map(), controller };
  state.loading = load;
  state.lastLoadFailed = false;
  const current = () => state.loading === load;
  // Until one full list has arrived, show the pages as they come.
  const progressive = !state.complete;
  if (progressive) {
    state.students = load.next;
    renderTable();
  } else {
    setCount();
  }
  try {
    for await (const page of api.studentPages({ limit: PAGE_SIZE, signal: controller.signal })) {
      if (!current()) return;
      for (const raw of page) {
        if (raw && typeof raw === 'object') {
          const student = asStudent(raw);
          load.next.set(student.studentid, student);
        }
      }
      if (progressive) renderTable();
      else setCount();
    }
    if (!current()) return;
    state.loading = null;
    state.students = load.next;
    state.complete = true;
    state.loadsFinished += 1;
    renderTable();
    showStatus(`Loaded ${plural(state.students.size, 'student', 'students')}.`, 'success');
  } catch (error) {
    if (!current() || (error && error.name === 'AbortError')) return;
    state.loading = null;
    state.lastLoadFailed = true;
    state.loadsFinished += 1;
    showError(describeError(error));
    renderTable();
    clearStatus();
  }
}

function onReload() {
  clearError();
  clearStatus();
  loadStudents();
}

// ---------------------------------------------------------------- add a student

/** Fields the person has typed in or left, whose problems are shown as they type. */
const touched = new Set();
/** Messages from the server per field, shown until the field changes. */
const serverErrors = {};

function showFieldState(field) {
  const input = ui.fields[field];
  const message = serverErrors[field] || (touched.has(field) ? checkField(field, input.value) : null);
  setFieldMessage(input, ui.fieldErrors[field], message);
  return message;
}

function onFieldInput(event) {
  const field = event.target.name;
  if (!FIELDS.includes(field)) return;
  touched.add(field);
  delete serverErrors[field];
  showFieldState(field);
}

function onFieldBlur(event) {
  const field = event.target.name;
  if (!FIELDS.includes(field)) return;
  if (event.target.value !== '') touched.add(field);
  showFieldState(field);
}

function formValues() {
  return Object.fromEntries(FIELDS.map((f) => [f, ui.fields[f].value]));
}

function resetForm() {
  ui.addForm.reset();
  touched.clear();
  for (const field of FIELDS) {
    delete serverErrors[field];
    showFieldState(field);
  }
}

async function onAddStudent(event) {
  event.preventDefault();
  if (state.adding) return;
  clearError();
  const values = formValues();
  const problems = checkStudent(values);
  for (const field of FIELDS) {
    touched.add(field);
    delete serverErrors[field];
    showFieldState(field);
  }
  const invalid = FIELDS.filter((f) => problems[f]);
  if (invalid.length > 0) {
    showStatus(
      invalid.length === 1
        ? `Please correct ${LABELS[invalid[0]]} before adding the student.`
        : `Please correct ${invalid.length} fields before adding the student.`,
      'warning',
    );
    ui.fields[invalid[0]].focus();
    return;
  }
  if (!settingsReady()) {
    (state.apiUrl ? ui.apiKey : ui.apiUrl).focus();
    return;
  }
  const body = toRequestBody(values);
  state.adding = true;
  setBusy(ui.submit, true, 'Adding…', 'Add student');
  showStatus(`Adding ${body.studentid}…`);
  try {
    const created = await client().addStudent(body);
    const student = asStudent({ ...body, ...created });
    state.students.set(student.studentid, student);
    if (state.loading) state.loading.next.set(student.studentid, student);
    state.highlight = student.studentid;
    renderTable();
    resetForm();
    if (created && created.emailSent === true) {
      showStatus(`Student ${student.studentid} (${student.name}) was added. A confirmation email was sent to ${student.email}.`, 'success');
    } else {
      const why = created && typeof created.warning === 'string' && created.warning ? created.warning : 'the confirmation email was not sent';
      showStatus(`Student ${student.studentid} (${student.name}) was added, but ${why}.`, 'warning');
    }
    ui.fields.studentid.focus();
  } catch (error) {
    clearStatus();
    handleAddError(error, body);
  } finally {
    state.adding = false;
    setBusy(ui.submit, false, 'Adding…', 'Add student');
    restoreFocus(ui.submit);
  }
}

function handleAddError(error, body) {
  if (error instanceof ApiError && error.kind === 'http' && error.status === 409) {
    const message = `A student with ID ${body.studentid} already exists.`;
    serverErrors.studentid = message;
    showFieldState('studentid');
    showError(`${message} Choose another ID.`);
    ui.fields.studentid.focus();
    return;
  }
  if (error instanceof ApiError && error.kind === 'http' && error.status === 400 && error.errors.length > 0) {
    const others = [];
    for (const item of error.errors) {
      const field = item && typeof item.field === 'string' ? item.field : '';
      const text = item && typeof item.message === 'string' ? item.message : 'is not valid';
      if (FIELDS.includes(field)) {
        serverErrors[field] = serverErrors[field] ? `${serverErrors[field]} ${LABELS[field]} ${text}.` : `${LABELS[field]} ${text}.`;
      } else {
        others.push(`${field || 'request'} ${text}`);
      }
    }
    const flagged = FIELDS.filter((f) => serverErrors[f]);
    for (const field of FIELDS) showFieldState(field);
    showError(
      `The service did not accept the student${flagged.length ? ': check ' + flagged.map((f) => LABELS[f]).join(', ') : ''}.` +
        (others.length ? ` ${others.join('; ')}.` : ''),
    );
    if (flagged.length) ui.fields[flagged[0]].focus();
    return;
  }
  showError(describeError(error));
}

// ---------------------------------------------------------------- backup

function humanSize(bytes) {
  if (bytes === null || bytes === undefined || bytes === '') return 'unknown size';
  const n = Number(bytes);
  if (!Number.isFinite(n) || n < 0) return 'unknown size';
  const units = ['byte', 'kilobyte', 'megabyte', 'gigabyte'];
  let value = n;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return new Intl.NumberFormat('en-US', {
    style: 'unit',
    unit: units[unit],
    unitDisplay: unit === 0 ? 'long' : 'short',
    maximumFractionDigits: unit === 0 ? 0 : 1,
  }).format(value);
}

const LOCAL_HOST = '127.0.0.1';

/**
 * A download link the page may follow: `https:`, or plain `http:` on 127.0.0.1 when the API
 * itself is there (the local stack, whose emulator serves the backups). Else `refused` says why,
 * and the link is shown as text only. `null` when there is no URL at all.
 */
function downloadLink(raw) {
  let url;
  try {
    url = new URL(String(raw));
  } catch {
    return null;
  }
  if (url.protocol === 'https:') return { href: url.href };
  let apiHost = '';
  try {
    apiHost = new URL(state.apiUrl).hostname;
  } catch {
    // no API URL: no local stack either
  }
  if (url.protocol === 'http:' && url.hostname === LOCAL_HOST && apiHost === LOCAL_HOST) return { href: url.href };
  return { refused: `The download link was not opened: only https: links are followed, and this one is ${url.href}` };
}

function formatExpiry(raw) {
  const date = new Date(String(raw));
  if (!raw || Number.isNaN(date.getTime())) return raw ? String(raw) : 'in one hour';
  return new Intl.DateTimeFormat('en-GB', {
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    timeZoneName: 'short',
  }).format(date);
}

async function onBackup() {
  if (state.backingUp) return;
  clearError();
  if (!settingsReady()) return;
  const api = client();
  const controller = new AbortController();
  state.backingUp = controller;
  setBusy(ui.backupButton, true, 'Backing up…', 'Back up now');
  ui.backupResult.hidden = true;
  hideProgress();
  showStatus('Backing up every student… this can take several seconds.');
  let backupId = '';
  let ended = false;
  try {
    const started = await api.backup({ signal: controller.signal });
    if (started.done) {
      ended = true;
      showBackupResult(started.report, { emailKnown: true });
      return;
    }
    // Still running after the service's wait, or another backup (another tab, the schedule)
    // was already running: follow it until it ends.
    backupId = started.backupId;
    showProgress(backupId, null);
    showStatus(
      `Backup ${backupId} is running. This page checks on it every ${POLL_SECONDS} seconds and shows the result when it is done.`,
    );
    let last = null;
    const view = await api.followBackup(started.statusUrl, {
      intervalMs: POLL_SECONDS * 1000,
      timeoutMs: POLL_LIMIT_MINUTES * 60 * 1000,
      signal: controller.signal,
      onUpdate: (update) => {
        last = update;
        showProgress(backupId, update);
      },
      onRetry: ({ error, delayMs }) => {
        const seconds = Math.round(delayMs / 1000);
        // Only a throttle, the network or a 5xx is tried again (see followBackup).
        let why = 'The service had a problem just now';
        if (error instanceof ApiError && error.status === 429) why = 'The service asked this page to slow down';
        else if (error instanceof ApiError && error.kind === 'network') why = 'The API could not be reached just now';
        showProgress(backupId, last, `${why}; checking again in ${plural(seconds, 'second', 'seconds')}.`);
      },
    });
    ended = true;
    hideProgress();
    if (!view || view.status === 'running') {
      showStatus(
        `Backup ${backupId} is still running after ${POLL_LIMIT_MINUTES} minutes, so this page stopped checking. It will be listed under Recent backups when it is done.`,
        'warning',
      );
    } else if (view.status === 'succeeded') {
      showBackupResult(view, { emailKnown: false });
    } else if (view.status === 'failed') {
      clearStatus();
      showError(`Backup ${backupId} failed: ${sentence(view.error, 'the service gave no reason.')}`);
    } else {
      clearStatus();
      showError(`Backup ${backupId} ended as “${view.status}”, which this page does not know.`);
    }
  } catch (error) {
    hideProgress();
    if (error && error.name === 'AbortError') return;
    clearStatus();
    if (!backupId) {
      showError(describeError(error));
    } else if (error instanceof ApiError && error.kind === 'http' && error.status === 404) {
      showError(`The service does not know backup ${backupId}, so this page cannot follow it. See Recent backups.`);
    } else {
      showError(`This page stopped following backup ${backupId}. ${describeError(error)}`);
    }
  } finally {
    if (state.backingUp === controller) state.backingUp = null;
    setBusy(ui.backupButton, false, 'Backing up…', 'Back up now');
    restoreFocus(ui.backupButton);
    if (ended && !controller.signal.aborted) loadBackups();
  }
}

/** `text` as a sentence (a full stop added when it has none), or `fallback`. */
function sentence(text, fallback) {
  const words = typeof text === 'string' ? text.trim() : '';
  if (!words) return fallback;
  return /[.!?]$/.test(words) ? words : `${words}.`;
}

/** The result of a finished backup: POST /backup's report, or a succeeded backup's status. */
function showBackupResult(result, { emailKnown }) {
  const link = downloadLink(result && result.downloadUrl);
  if (!link) throw new ApiError('bad-response', 'the backup has no usable downloadUrl', { apiUrl: state.apiUrl });
  const count = Number(result.count);
  const hasCount = result.count !== null && result.count !== undefined && Number.isFinite(count);
  ui.backupSummary.textContent = 'Backup complete.';
  ui.backupCount.textContent = hasCount ? numbers.format(count) : '—';
  ui.backupSize.textContent = humanSize(result.bytes);
  ui.backupExpires.textContent = formatExpiry(result.expiresAt);
  ui.backupLocation.textContent = result.bucket ? `s3://${result.bucket}/${result.key ?? ''}` : result.key ? String(result.key) : '—';
  ui.backupSha.textContent = result.sha256 ? String(result.sha256) : '—';
  ui.backupEmail.textContent = result.emailSent ? 'A notice was emailed.' : 'No notice email was sent.';
  ui.backupEmail.hidden = !emailKnown;
  ui.backupEmailLabel.hidden = !emailKnown;
  ui.backupLink.hidden = !link.href;
  ui.backupLink.href = link.href ?? '#backup-title';
  ui.backupLinkRefused.hidden = !link.refused;
  ui.backupLinkRefused.textContent = link.refused ?? '';
  ui.backupResult.dataset.count = hasCount ? String(count) : '';
  ui.backupResult.dataset.backupId = typeof result.backupId === 'string' ? result.backupId : '';
  ui.backupResult.hidden = false;
  showStatus(
    `Backup complete: ${hasCount ? plural(count, 'student', 'students') : 'students'}, ${humanSize(result.bytes)}. The download link works for one hour.`,
    'success',
  );
}

function showProgress(backupId, view, note = '') {
  ui.backupProgressId.textContent = backupId;
  const started = view && view.startedAt ? `Started ${formatWhen(view.startedAt)}. ` : '';
  ui.backupProgressText.textContent = note ? `${started}${note}` : `${started}Checking every ${POLL_SECONDS} seconds…`;
  ui.backupProgress.dataset.backupId = backupId;
  ui.backupProgress.hidden = false;
}

function hideProgress() {
  ui.backupProgress.hidden = true;
  ui.backupProgressId.textContent = '';
  ui.backupProgressText.textContent = '';
  delete ui.backupProgress.dataset.backupId;
}

// ---------------------------------------------------------------- recent backups

/** A time from the API in the reader's locale; what came, as text, when it is not a time. */
function formatWhen(raw) {
  if (raw === null || raw === undefined || raw === '') return 'an unknown time';
  // Only an RFC 3339 time is read as one (Date alone reads almost anything as some date).
  const text = String(raw);
  const date = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(text) ? new Date(text) : new Date(NaN);
  return Number.isNaN(date.getTime()) ? text : listDates.format(date);
}

const BACKUP_STATUS_LOOK = {
  succeeded: ['Succeeded', 'bg-emerald-50 text-emerald-900 ring-emerald-300'],
  running: ['Running', 'bg-amber-50 text-amber-950 ring-amber-300'],
  failed: ['Failed', 'bg-red-50 text-red-900 ring-red-300'],
};
const OTHER_STATUS_LOOK = 'bg-slate-100 text-slate-800 ring-slate-300';

/** A SHA-256 shortened for the list: its first 12 characters. */
function shortHash(hash) {
  return hash.length > 16 ? `${hash.slice(0, 12)}…` : hash;
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function srOnly(text) {
  return element('span', 'sr-only', text);
}

function backupItem(view) {
  const when = formatWhen(view.startedAt);
  const status = typeof view.status === 'string' ? view.status : '';
  const [statusText, statusLook] = Object.hasOwn(BACKUP_STATUS_LOOK, status) ? BACKUP_STATUS_LOOK[status] : [status || 'Unknown', OTHER_STATUS_LOOK];
  const li = element('li', 'py-3 focus:outline-2 focus:outline-offset-2 focus:outline-indigo-600');
  li.dataset.testid = 'backup-item';
  li.setAttribute('data-backup-id', String(view.backupId));
  li.setAttribute('data-status', status);

  const head = element('div', 'flex flex-wrap items-center justify-between gap-2');
  const time = element('time', 'text-sm font-semibold text-slate-900', when);
  time.dataset.field = 'started';
  if (view.startedAt) time.setAttribute('datetime', String(view.startedAt));
  const badge = element('span', `inline-flex items-center rounded-full px-2 py-0.5 text-xs font-semibold ring-1 ring-inset ${statusLook}`, statusText);
  badge.dataset.field = 'status';
  head.append(time, badge);

  const dl = element('dl', 'mt-2 grid grid-cols-[auto_minmax(0,1fr)] gap-x-3 gap-y-1 text-sm text-slate-700');
  const row = (label, field, value, className = 'text-slate-900') => {
    const dd = element('dd', `min-w-0 ${className}`);
    dd.dataset.field = field;
    if (value instanceof Node) dd.append(value);
    else dd.textContent = value;
    dl.append(element('dt', 'text-slate-600', label), dd);
    return dd;
  };
  const known = (v) => v !== null && v !== undefined && v !== '';
  row('ID', 'backupId', String(view.backupId), 'font-mono text-xs break-all text-slate-800');
  const count = Number(view.count);
  row('Students', 'count', known(view.count) && Number.isFinite(count) ? numbers.format(count) : known(view.count) ? String(view.count) : '—');
  row('Size', 'size', known(view.bytes) ? humanSize(view.bytes) : '—');
  if (known(view.sha256)) {
    const full = String(view.sha256);
    const wrap = element('span', 'flex flex-wrap items-center gap-x-2 gap-y-1');
    const code = element('code', 'font-mono text-xs break-all text-slate-800', shortHash(full));
    code.title = full;
    code.dataset.sha256 = full;
    const copy = element('button', 'rounded px-1.5 py-0.5 text-xs font-semibold text-indigo-700 ring-1 ring-indigo-200 ring-inset hover:bg-indigo-50 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-600');
    copy.type = 'button';
    copy.dataset.copy = full;
    copy.dataset.testid = 'backup-copy-sha256';
    const label = element('span', '', 'Copy');
    label.dataset.label = '';
    copy.append(label, srOnly(` the full SHA-256 of the backup of ${when}`));
    wrap.append(code, copy);
    row('SHA-256', 'sha256', wrap);
  } else {
    row('SHA-256', 'sha256', '—');
  }
  if (status === 'failed') {
    row('Why', 'error', sentence(view.error, 'The service gave no reason.'), 'text-red-800');
  }
  li.append(head, dl);

  const download = status === 'succeeded' ? downloadLink(view.downloadUrl) : null;
  if (download && download.refused) {
    const refused = element('p', 'mt-2 text-sm font-medium break-words text-red-800', download.refused);
    refused.dataset.testid = 'backup-item-link-refused';
    li.append(refused);
  } else if (download) {
    const link = element('a', 'mt-2 inline-flex items-center gap-1.5 rounded-md px-2 py-1 text-sm font-semibold text-indigo-700 ring-1 ring-indigo-200 ring-inset hover:bg-indigo-50 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-600');
    link.href = download.href;
    link.rel = 'noopener noreferrer';
    link.dataset.testid = 'backup-item-link';
    link.append('Download', srOnly(` the backup of ${when}`), ' (JSON)');
    li.append(link);
  } else if (status === 'running') {
    li.append(element('p', 'mt-2 text-sm text-slate-600', 'Still running. Choose “Back up now” to follow it.'));
  }
  return li;
}

function setBackupsMessage(text, phase) {
  ui.backupsMessage.textContent = text;
  ui.backupsMessage.dataset.state = phase;
  ui.backupsMessage.className = phase === 'error' ? 'mt-4 text-sm font-medium text-red-800' : 'mt-4 text-sm text-slate-600';
}

function renderBackups() {
  const { items, nextCursor } = state.backups;
  const fragment = document.createDocumentFragment();
  for (const view of items) fragment.append(backupItem(view));
  ui.backupsList.replaceChildren(fragment);
  ui.backupsMore.hidden = !nextCursor;
  ui.backupsList.dataset.count = String(items.length);
}

function resetBackups() {
  if (state.backups.loading) state.backups.loading.controller.abort();
  state.backups = { items: [], nextCursor: null, loading: null, loaded: false };
  renderBackups();
  setBackupsMessage('Enter the API URL and key in Settings to see the backups.', 'idle');
}

/** True for an API from before GET /backups: the route is unknown there. */
function listsNoBackups(error) {
  if (!(error instanceof ApiError) || error.kind !== 'http') return false;
  return error.status === 404 || error.status === 405 || (error.status === 403 && /missing authentication token/i.test(error.serverMessage));
}

/** Loads the newest backups (replacing the list), or with `more` the page after the last one. */
async function loadBackups({ more = false } = {}) {
  if (!settingsReady({ announce: false })) {
    resetBackups();
    return;
  }
  if (more && (!state.backups.nextCursor || state.backups.loading)) return;
  if (state.backups.loading) state.backups.loading.controller.abort();
  const controller = new AbortController();
  const button = more ? ui.backupsMore : ui.backupsRefresh;
  const load = { controller, button };
  state.backups.loading = load;
  const [busyLabel, idleLabel] = more ? ['Loading older backups…', 'Show older backups'] : ['Refreshing…', 'Refresh'];
  setBusy(button, true, busyLabel, idleLabel);
  setBackupsMessage(more ? 'Loading older backups…' : 'Loading the backups…', 'loading');
  ui.backupsList.setAttribute('aria-busy', 'true');
  const firstNew = more ? state.backups.items.length : 0;
  try {
    const page = await client().backups({ limit: BACKUPS_PAGE, cursor: more ? state.backups.nextCursor : null, signal: controller.signal });
    if (state.backups.loading !== load) return;
    if (more) {
      const seen = new Set(state.backups.items.map((view) => view.backupId));
      state.backups.items.push(...page.items.filter((view) => !seen.has(view.backupId)));
    } else {
      state.backups.items = page.items;
    }
    state.backups.nextCursor = page.nextCursor;
    state.backups.loaded = true;
    renderBackups();
    const n = state.backups.items.length;
    let text;
    if (n === 0) text = 'There are no backups yet.';
    else if (state.backups.nextCursor) text = `The ${plural(n, 'newest backup', 'newest backups')}; older ones follow with “Show older backups”.`;
    else text = n === 1 ? 'The only backup.' : `All ${plural(n, 'backup', 'backups')}.`;
    setBackupsMessage(text, 'ready');
  } catch (error) {
    if (state.backups.loading !== load || (error && error.name === 'AbortError')) return;
    if (listsNoBackups(error)) {
      state.backups.items = [];
      state.backups.nextCursor = null;
      renderBackups();
      setBackupsMessage('This API does not list past backups (it is older than that feature). “Back up now” still works.', 'unsupported');
    } else {
      setBackupsMessage(`The backups could not be listed. ${describeError(error)}`, 'error');
    }
  } finally {
    const current = state.backups.loading === load;
    if (current) state.backups.loading = null;
    // A newer load may be using the same button; leave it busy then.
    if (current || !state.backups.loading || state.backups.loading.button !== button) setBusy(button, false, busyLabel, idleLabel);
    if (current) {
      ui.backupsList.setAttribute('aria-busy', 'false');
      if (more) keepFocusAfterMore(firstNew);
    }
  }
}

/**
 * After "Show older backups" (whose button was disabled while loading, which drops focus),
 * puts the keyboard on the first new backup, else back on the button, else on the heading.
 */
function keepFocusAfterMore(firstNew) {
  if (document.activeElement !== document.body && document.activeElement !== ui.backupsMore && document.activeElement !== null) return;
  const item = ui.backupsList.children[firstNew];
  if (item) {
    item.tabIndex = -1;
    item.focus();
  } else if (!ui.backupsMore.hidden) {
    ui.backupsMore.focus();
  } else {
    document.getElementById('backups-title').focus();
  }
}

function onRefreshBackups() {
  if (!settingsReady()) return;
  loadBackups();
}

async function onListClick(event) {
  const button = event.target.closest('button[data-copy]');
  if (!button) return;
  const full = button.dataset.copy;
  const label = button.querySelector('[data-label]');
  try {
    await navigator.clipboard.writeText(full);
    label.textContent = 'Copied';
  } catch {
    // No clipboard (permission, an insecure origin): show the whole value, selected.
    const code = button.parentElement.querySelector('code');
    code.textContent = full;
    const range = document.createRange();
    range.selectNodeContents(code);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    label.textContent = 'Selected: press Ctrl+C';
  }
  window.setTimeout(() => {
    if (label.isConnected) label.textContent = 'Copy';
  }, 4000);
}

// ---------------------------------------------------------------- start

async function readConfig() {
  try {
    const response = await fetch('config.json', { cache: 'no-store', credentials: 'same-origin' });
    if (!response.ok) return '';
    const config = await response.json();
    return config && typeof config.apiUrl === 'string' ? normalizeApiUrl(config.apiUrl) ?? '' : '';
  } catch {
    return '';
  }
}

async function start() {
  ui.errorDismiss.addEventListener('click', clearError);
  ui.settingsForm.addEventListener('submit', onSaveSettings);
  ui.forgetKey.addEventListener('click', onForgetKey);
  ui.showKey.addEventListener('change', () => {
    ui.apiKey.type = ui.showKey.checked ? 'text' : 'password';
  });
  ui.apiUrl.addEventListener('input', () => setFieldMessage(ui.apiUrl, ui.apiUrlError, ''));
  ui.apiKey.addEventListener('input', () => setFieldMessage(ui.apiKey, ui.apiKeyError, ''));
  ui.addForm.addEventListener('submit', onAddStudent);
  ui.addForm.addEventListener('input', onFieldInput);
  ui.addForm.addEventListener('focusout', onFieldBlur);
  ui.backupButton.addEventListener('click', onBackup);
  ui.backupsRefresh.addEventListener('click', onRefreshBackups);
  ui.backupsMore.addEventListener('click', () => loadBackups({ more: true }));
  ui.backupsList.addEventListener('click', onListClick);
  ui.reload.addEventListener('click', onReload);
  ui.search.addEventListener('input', onSearch);
  ui.table.querySelector('thead').addEventListener('click', onSortClick);
  // The forms' buttons come disabled, so nothing is submitted before these handlers exist.
  for (const button of [ui.saveSettings, ui.forgetKey, ui.submit]) button.disabled = false;

  state.configApiUrl = await readConfig();
  state.apiUrl = normalizeApiUrl(storageGet(STORAGE_URL)) ?? state.configApiUrl;
  state.apiKey = storageGet(STORAGE_KEY);
  ui.apiUrl.value = state.apiUrl;
  ui.apiKey.value = state.apiKey;
  renderTable();
  resetBackups();
  document.documentElement.dataset.ready = 'true';

  if (state.apiUrl && state.apiKey) {
    loadStudents();
    loadBackups();
  } else if (!state.apiUrl) {
    showStatus('Enter the API URL and the API key in Settings, then choose “Save and load”.');
  } else {
    showStatus('Enter the API key in Settings, then choose “Save and load”.');
  }
}

start();
