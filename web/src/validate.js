// Client-side mirror of the server's rules for a new student (functions/src/domain/student/).
// The server stays the authority: anything it still rejects comes back as a 400 `errors` array
// and is shown next to the same fields.

export const FIELDS = ['studentid', 'name', 'class', 'birthdate', 'email'];

export const LABELS = {
  studentid: 'Student ID',
  name: 'Name',
  class: 'Class',
  birthdate: 'Birth date',
  email: 'Email',
};

const MAX_ID = 64;
const MAX_NAME = 200;
const MAX_CLASS = 50;
const MAX_EMAIL = 254;
const EARLIEST_BIRTHDATE = '1900-01-01';

const ID_CHARS = /^[A-Za-z0-9_-]+$/;
// Rust's char::is_control is the Unicode general category Cc.
const CONTROL = /\p{Cc}/u;
// Format characters (Cf: bidi overrides and isolates, zero-width characters, the soft hyphen,
// tags, ...) and the line and paragraph separators: invisible, they make a name read otherwise
// than it is stored. The server refuses the same (its table is generated from `\p{Cf}`).
const INVISIBLE = /\p{Cf}|[\u2028\u2029]/u;
// Whitespace as Rust's str::trim sees it (Unicode White_Space).
const EDGE_SPACE = /^[\p{White_Space}]+|[\p{White_Space}]+$/gu;

/** Number of Unicode scalar values, as Rust's chars().count(). */
function charCount(s) {
  let n = 0;
  for (const _ of s) n += 1;
  return n;
}

export function trimText(raw) {
  return String(raw).replace(EDGE_SPACE, '');
}

export function checkStudentId(raw) {
  const n = charCount(raw);
  if (n === 0) return 'Student ID is required.';
  if (n > MAX_ID) return `Student ID must be at most ${MAX_ID} characters (now ${n}).`;
  if (!ID_CHARS.test(raw)) return 'Student ID may contain only letters A–Z, a–z, digits, “_” and “-”.';
  return null;
}

function checkText(label, raw, max) {
  const trimmed = trimText(raw);
  const n = charCount(trimmed);
  if (n === 0) return `${label} is required.`;
  if (n > max) return `${label} must be at most ${max} characters (now ${n}).`;
  if (CONTROL.test(trimmed)) return `${label} must not contain control characters.`;
  const invisible = trimmed.match(INVISIBLE);
  if (invisible) return `${label} must not contain invisible format characters (${codePoint(invisible[0])}).`;
  return null;
}

/** `U+202E` for a character. */
function codePoint(c) {
  return `U+${c.codePointAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
}

export function checkName(raw) {
  return checkText('Name', raw, MAX_NAME);
}

export function checkClass(raw) {
  return checkText('Class', raw, MAX_CLASS);
}

/** Today's date in UTC as YYYY-MM-DD. */
export function todayUtc(now = new Date()) {
  return now.toISOString().slice(0, 10);
}

function daysInMonth(year, month) {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

export function checkBirthdate(raw, today = todayUtc()) {
  if (raw.length === 0) return 'Birth date is required.';
  if (!/^\d{4}-\d{2}-\d{2}$/.test(raw)) return 'Birth date must be written YYYY-MM-DD, for example 2004-09-15.';
  const year = Number(raw.slice(0, 4));
  const month = Number(raw.slice(5, 7));
  const day = Number(raw.slice(8, 10));
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) {
    return `Birth date ${raw} is not a real calendar date.`;
  }
  if (raw > today) return 'Birth date must not be in the future.';
  if (raw < EARLIEST_BIRTHDATE) return 'Birth date must not be before 1900-01-01.';
  return null;
}

// Local part: a dot-atom of RFC 5322 atext (plus UTF-8, RFC 6532) or a quoted string.
const ATEXT = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\u{10FFFF}]+$/u;
const QUOTED = /^"(?:[\x20\x21\x23-\x5B\x5D-\x7E\u0080-\u{10FFFF}]|\\[\x20-\x7E])*"$/u;
// A domain label: letters, digits and hyphens (UTF-8 allowed), not starting or ending with '-'.
const LABEL = /^[A-Za-z0-9\u0080-\u{10FFFF}](?:[A-Za-z0-9\-\u0080-\u{10FFFF}]*[A-Za-z0-9\u0080-\u{10FFFF}])?$/u;

function emailProblem(raw) {
  const at = raw.lastIndexOf('@');
  if (at < 0) return 'it has no “@”';
  const local = raw.slice(0, at);
  const domain = raw.slice(at + 1);
  if (local.length === 0) return 'nothing comes before the “@”';
  if (domain.length === 0) return 'nothing comes after the “@”';
  if (charCount(local) > 64) return 'the part before the “@” is longer than 64 characters';
  if (local.startsWith('"')) {
    if (!QUOTED.test(local)) return 'the quoted part before the “@” is not valid';
  } else if (!local.split('.').every((part) => part.length > 0 && ATEXT.test(part))) {
    return 'the part before the “@” has a character or a dot that is not allowed there';
  }
  if (domain.startsWith('[')) return 'an IP address in brackets is not accepted as the domain';
  if (charCount(domain) > 253) return 'the domain is too long';
  const labels = domain.split('.');
  if (labels.length < 2) return 'the domain needs a dot, as in example.com';
  for (const label of labels) {
    if (label.length === 0) return 'the domain has an empty part between dots';
    if (charCount(label) > 63) return 'a part of the domain is longer than 63 characters';
    if (!LABEL.test(label)) return 'the domain may contain only letters, digits, hyphens and dots';
  }
  return null;
}

export function checkEmail(raw) {
  if (raw.length === 0) return 'Email is required.';
  const n = charCount(raw);
  if (n > MAX_EMAIL) return `Email must be at most ${MAX_EMAIL} characters (now ${n}).`;
  if (CONTROL.test(raw)) return 'Email must not contain control characters.';
  const problem = emailProblem(raw);
  if (problem) return `Email must be a valid address such as name@example.com: ${problem}.`;
  return null;
}

const CHECKS = {
  studentid: checkStudentId,
  name: checkName,
  class: checkClass,
  birthdate: (raw) => checkBirthdate(raw),
  email: checkEmail,
};

/** The message for one field, or null when the value is acceptable. */
export function checkField(field, raw) {
  const check = CHECKS[field];
  if (!check) throw new Error(`unknown field ${field}`);
  return check(String(raw ?? ''));
}

/** Every field's problem: an object field → message, empty when the student may be sent. */
export function checkStudent(values) {
  const errors = {};
  for (const field of FIELDS) {
    const message = checkField(field, values[field]);
    if (message) errors[field] = message;
  }
  return errors;
}

/** The exact body the API accepts: the five fields, with name and class trimmed. */
export function toRequestBody(values) {
  return {
    studentid: String(values.studentid),
    name: trimText(values.name),
    class: trimText(values.class),
    birthdate: String(values.birthdate),
    email: String(values.email),
  };
}
