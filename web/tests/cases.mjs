// The shared table of a new student's field rules (system/cases/new-student.json), read the
// same way the server's test reads it (functions/tests/validation_cases.rs).

import { readFileSync } from 'node:fs';

const table = JSON.parse(readFileSync(new URL('../../system/cases/new-student.json', import.meta.url), 'utf8'));

/** A case's value: a string, or {repeat, times, before, after}. */
function expand(value) {
  if (typeof value === 'string') return value;
  return `${value.before ?? ''}${value.repeat.repeat(value.times)}${value.after ?? ''}`;
}

export const TODAY = table.today;
export const VALID = table.valid;
/** Every case as {field, value, ok}. */
export const CASES = table.cases.map((c) => ({ field: c.field, value: expand(c.value), ok: c.ok }));
