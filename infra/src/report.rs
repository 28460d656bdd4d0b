//! What infra prints: one line per resource. `deploy` says what it did (`created`, `updated`,
//! `deleted`, `unchanged`); `deploy --plan` what it would do (`create`, `update` with the fields
//! that differ, `delete`, `unchanged`) and a summary; `destroy` what it deleted, kept or left
//! alone.

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::context::Mode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Created,
    Updated,
    Unchanged,
    Deleted,
    Gone,
    Kept,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Unchanged => "unchanged",
            Self::Deleted => "deleted",
            Self::Gone => "absent",
            Self::Kept => "kept",
        })
    }
}

impl Change {
    /// `Created` stays created; anything else becomes `Updated`.
    pub fn or_updated(self) -> Self {
        if self == Change::Created { self } else { Change::Updated }
    }

    /// What putting a resource did: `Updated` when one `existed`, else `Created`.
    pub fn replacing(existed: bool) -> Self {
        if existed { Change::Updated } else { Change::Created }
    }
}

/// One field that differs between the account and the declaration: `throttle.rateLimit 77 → 5`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    pub field: String,
    pub old: String,
    pub new: String,
}

impl FieldChange {
    pub fn new(field: impl Into<String>, old: impl fmt::Display, new: impl fmt::Display) -> Self {
        Self { field: field.into(), old: old.to_string(), new: new.to_string() }
    }

    /// A field that is `Some(value)` or missing (shown as `none`).
    pub fn optional(field: impl Into<String>, old: Option<impl fmt::Display>, new: impl fmt::Display) -> Self {
        Self::new(field, old.map_or_else(|| "none".to_owned(), |v| v.to_string()), new)
    }
}

impl fmt::Display for FieldChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} → {}", self.field, self.old, self.new)
    }
}

/// Adds a change to `changes` when `old != new`.
pub fn compare<T: PartialEq + fmt::Display>(changes: &mut Vec<FieldChange>, field: &str, old: T, new: T) {
    if old != new {
        changes.push(FieldChange::new(field, old, new));
    }
}

/// What reconciling one resource does, or would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Create,
    Update(Vec<FieldChange>),
    Unchanged,
}

impl Action {
    /// `Update` when `changes` holds any, else `Unchanged`.
    pub fn update(changes: Vec<FieldChange>) -> Self {
        if changes.is_empty() { Self::Unchanged } else { Self::Update(changes) }
    }

    /// The fields an update changes (none for the others).
    pub fn fields(&self) -> &[FieldChange] {
        match self {
            Self::Update(fields) => fields,
            Self::Create | Self::Unchanged => &[],
        }
    }

    pub fn change(&self) -> Change {
        match self {
            Self::Create => Change::Created,
            Self::Update(_) => Change::Updated,
            Self::Unchanged => Change::Unchanged,
        }
    }
}

/// Prints the lines, to stdout (tests read them from the binary's output), and counts what a
/// plan would change.
#[derive(Debug)]
pub struct Report {
    mode: Mode,
    to_create: AtomicUsize,
    to_update: AtomicUsize,
    unchanged: AtomicUsize,
    to_delete: AtomicUsize,
}

impl Report {
    pub fn new(mode: Mode) -> Self {
        Self {
            mode,
            to_create: AtomicUsize::new(0),
            to_update: AtomicUsize::new(0),
            unchanged: AtomicUsize::new(0),
            to_delete: AtomicUsize::new(0),
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// What was done to one resource.
    pub fn record(&self, change: Change, kind: &str, name: impl fmt::Display) -> Change {
        println!("{change:<9} {kind} {name}");
        let _ = std::io::stdout().flush();
        change
    }

    /// One resource's action: in a plan, what would be done and to which fields; otherwise
    /// what was done (the caller applies it first).
    pub fn action(&self, action: &Action, kind: &str, name: impl fmt::Display) -> Change {
        if self.mode == Mode::Apply {
            return self.record(action.change(), kind, name);
        }
        let (verb, counter) = match action {
            Action::Create => ("create", &self.to_create),
            Action::Update(_) => ("update", &self.to_update),
            Action::Unchanged => ("unchanged", &self.unchanged),
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let fields: Vec<String> = action.fields().iter().map(ToString::to_string).collect();
        if fields.is_empty() {
            println!("{verb:<9} {kind} {name}");
        } else {
            println!("{verb:<9} {kind} {name}: {}", fields.join(", "));
        }
        let _ = std::io::stdout().flush();
        action.change()
    }

    /// How many resources a plan would create and update.
    pub fn pending(&self) -> (usize, usize, usize) {
        (
            self.to_create.load(Ordering::Relaxed),
            self.to_update.load(Ordering::Relaxed),
            self.unchanged.load(Ordering::Relaxed),
        )
    }

    /// A resource `destroy --yes` would delete (what `destroy` lists before it asks), or
    /// `deploy` would remove (`--no-backup-schedule`), in a plan.
    pub fn to_delete(&self, kind: &str, name: impl fmt::Display) {
        self.to_delete.fetch_add(1, Ordering::Relaxed);
        println!("{:<9} {kind} {name}", "delete");
        let _ = std::io::stdout().flush();
    }

    /// How many resources `destroy` (or a planned `deploy`) would delete.
    pub fn deletions(&self) -> usize {
        self.to_delete.load(Ordering::Relaxed)
    }

    /// A resource by the declared name that `destroy` will not touch, and why.
    pub fn left_alone(&self, kind: &str, name: impl fmt::Display, why: &str) {
        println!("{:<9} {kind} {name} ({why})", "left");
        let _ = std::io::stdout().flush();
    }

    /// Progress for slow steps, on stderr so stdout stays one line per resource.
    pub fn progress(&self, message: impl fmt::Display) {
        eprintln!("  … {message}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_changes_read_old_to_new() {
        let mut changes = Vec::new();
        compare(&mut changes, "throttle.rateLimit", 77.0, 5.0);
        compare(&mut changes, "throttle.burstLimit", 10, 10);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].to_string(), "throttle.rateLimit 77 → 5");
        assert_eq!(FieldChange::optional("retentionInDays", None::<i32>, 90).to_string(), "retentionInDays none → 90");
        assert_eq!(Action::update(changes).change(), Change::Updated);
        assert_eq!(Action::update(Vec::new()), Action::Unchanged);
    }
}
