// Student Records page. Every value that comes from the API is written with textContent or
// setAttribute, never parsed as HTML.

import { ApiError, createClient, describeError, normalizeApiUrl } from './api.js';
import { FIELDS, LABELS, checkField, checkStudent, toRequestBody } from './validate.js';

const STORAGE_KEY = 'studentRecords.apiKey';
const STORAGE_URL = 'studentRecords.apiUrl';
const PAGE_SIZE = 1000;

const numbers = new Intl.NumberFormat('en-US');
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
  backupLink: $('backup-link'),
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
  backingUp: false,
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
}

function onForgetKey() {
  storageSet(STORAGE_KEY, '');
  state.apiKey = '';
  ui.apiKey.value = '';
  setFieldMessage(ui.apiKey, ui.apiKeyError, '');
  cancelLoad();
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

function safeHttpUrl(raw) {
  try {
    const url = new URL(String(raw));
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
  } catch {
    return null;
  }
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
  state.backingUp = true;
  setBusy(ui.backupButton, true, 'Backing up…', 'Back up now');
  ui.backupResult.hidden = true;
  showStatus('Backing up every student… this can take several seconds.');
  try {
    const result = await client().backup();
    const href = safeHttpUrl(result && result.downloadUrl);
    if (!href) throw new ApiError('bad-response', 'the backup has no usable downloadUrl', { apiUrl: state.apiUrl });
    const count = Number(result.count);
    ui.backupSummary.textContent = 'Backup complete.';
    ui.backupCount.textContent = Number.isFinite(count) ? numbers.format(count) : String(result.count ?? '');
    ui.backupSize.textContent = humanSize(result.bytes);
    ui.backupExpires.textContent = formatExpiry(result.expiresAt);
    ui.backupLocation.textContent = result.bucket || result.key ? `s3://${result.bucket ?? ''}/${result.key ?? ''}` : '—';
    ui.backupSha.textContent = result.sha256 ? String(result.sha256) : '—';
    ui.backupEmail.textContent = result.emailSent ? 'A notice was emailed.' : 'No notice email was sent.';
    ui.backupLink.href = href;
    ui.backupResult.dataset.count = String(result.count ?? '');
    ui.backupResult.hidden = false;
    showStatus(
      `Backup complete: ${Number.isFinite(count) ? plural(count, 'student', 'students') : 'students'}, ${humanSize(result.bytes)}. The download link works for one hour.`,
      'success',
    );
  } catch (error) {
    clearStatus();
    showError(describeError(error));
  } finally {
    state.backingUp = false;
    setBusy(ui.backupButton, false, 'Backing up…', 'Back up now');
    restoreFocus(ui.backupButton);
  }
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
  ui.reload.addEventListener('click', onReload);
  ui.search.addEventListener('input', onSearch);
  ui.table.querySelector('thead').addEventListener('click', onSortClick);

  state.configApiUrl = await readConfig();
  state.apiUrl = normalizeApiUrl(storageGet(STORAGE_URL)) ?? state.configApiUrl;
  state.apiKey = storageGet(STORAGE_KEY);
  ui.apiUrl.value = state.apiUrl;
  ui.apiKey.value = state.apiKey;
  renderTable();
  document.documentElement.dataset.ready = 'true';

  if (state.apiUrl && state.apiKey) {
    loadStudents();
  } else if (!state.apiUrl) {
    showStatus('Enter the API URL and the API key in Settings, then choose “Save and load”.');
  } else {
    showStatus('Enter the API key in Settings, then choose “Save and load”.');
  }
}

start();
