//! Small shared helpers below every stage: [`redact`] turns secrets and
//! URLs into text that is safe to show, [`atomic`] writes files so a crash
//! never leaves half of one under its final name.

pub mod atomic;
pub mod redact;

pub use atomic::write_atomic;
