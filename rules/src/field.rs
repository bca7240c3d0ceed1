//! Field violations: what is wrong with which request field. Pure data; the kit turns them into
//! `BadRequest` details (`partnerhub_kit::status`).

use std::fmt;

/// One request field at fault, named by its path ("user.display_name", "line_items[1].quantity").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub field: String,
    pub description: String,
}

/// The field violations of one request, collected so a caller sees them all at once.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Violations(Vec<Violation>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    /// One violation alone.
    pub fn one(field: impl Into<String>, description: impl Into<String>) -> Self {
        let mut v = Self::new();
        v.add(field, description);
        v
    }

    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(Violation {
            field: field.into(),
            description: description.into(),
        });
    }

    /// Adds every violation of `other`.
    pub fn extend(&mut self, other: Violations) {
        self.0.extend(other.0);
    }

    /// Keeps a parse result's value, or records its violation and gives `None`.
    pub fn take<T>(&mut self, result: Result<T, Violations>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(violations) => {
                self.extend(violations);
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_slice(&self) -> &[Violation] {
        &self.0
    }

    /// Ends a parse: the violations found, or else the value. Every part of `value` was kept by
    /// [`Violations::take`] (combine several with `Option::zip`), so when nothing was found it is
    /// all there.
    pub fn done<T>(self, value: Option<T>) -> Result<T, Violations> {
        self.check()?;
        value.ok_or_else(|| Violations::one("request", "is incomplete"))
    }

    /// `Ok(())` when nothing was found, else these violations as the error.
    pub fn check(self) -> Result<(), Violations> {
        if self.is_empty() { Ok(()) } else { Err(self) }
    }
}

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", v.field, v.description)?;
        }
        Ok(())
    }
}

impl std::error::Error for Violations {}
