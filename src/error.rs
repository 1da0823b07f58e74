//! Errors a user can cause, and the one mapping from errors to exit codes.
//!
//! Exit codes (SPEC §6): 0 all asked-for work succeeded, 1 a task failed or was refused,
//! 2 usage/config/manifest error (nothing changed), 130 interrupted.

use std::fmt;

/// How a command ended when it did not return an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok,
    /// A task failed, conflicted, was skipped or refused.
    Failed,
    Interrupted,
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Failed => 1,
            Exit::Interrupted => 130,
        }
    }
}

/// What kind of mistake an [`Error`] reports; decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Bad flags, config or manifest: exit 2, and nothing was changed.
    Usage,
    /// The request was understood but refused (dirty checkout, say): exit 1.
    Refused,
    /// Ctrl-C: exit 130.
    Interrupted,
}

/// An error a user can cause and fix: a message naming what is wrong and where, and at
/// most one hint saying how to fix it.
#[derive(Debug)]
pub struct Error {
    pub kind: Kind,
    pub message: String,
    pub hint: Option<String>,
}

impl Error {
    pub fn usage(message: impl Into<String>) -> Self {
        Error {
            kind: Kind::Usage,
            message: message.into(),
            hint: None,
        }
    }

    pub fn refused(message: impl Into<String>) -> Self {
        Error {
            kind: Kind::Refused,
            message: message.into(),
            hint: None,
        }
    }

    pub fn interrupted() -> Self {
        Error {
            kind: Kind::Interrupted,
            message: "interrupted".into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn exit_code(&self) -> u8 {
        match self.kind {
            Kind::Usage => 2,
            Kind::Refused => 1,
            Kind::Interrupted => 130,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Shorthand for returning a usage error (exit 2) from a function returning `anyhow::Result`.
#[macro_export]
macro_rules! usage {
    ($($arg:tt)*) => {
        anyhow::Error::from($crate::error::Error::usage(format!($($arg)*)))
    };
}

/// The exit code for any error reaching the top: our own kinds map as they say; anything
/// else (a git command that failed, an I/O error) is a failure of the work, exit 1.
pub fn exit_code_of(err: &anyhow::Error) -> u8 {
    match err.downcast_ref::<Error>() {
        Some(e) => e.exit_code(),
        None => 1,
    }
}
