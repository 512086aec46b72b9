//! Small shared helpers below every stage: [`redact`] turns secrets and
//! URLs into text that is safe to show, [`atomic`] writes files so a crash
//! never leaves half of one under its final name, [`durable`] does that on a
//! few I/O threads while CPU workers go on, [`env`] expands `${NAME}` in
//! secret-bearing settings, [`http`] is the one GET behind the on-disk
//! caches, [`zone`] reads IANA time zones, [`yaml`] places YAML errors and
//! [`suggest`] offers "did you mean".

pub mod atomic;
pub mod durable;
pub mod env;
pub mod http;
pub mod redact;
pub mod suggest;
pub mod yaml;
pub mod zone;

pub use atomic::write_atomic;
