//! storyforge's delivery layer: everything between a finished Story file and
//! a published Story. [`validate`] holds any file to Instagram's rules,
//! [`ledger`] records every Story (SQLite or Postgres), [`notify`] tells
//! webhooks what happened, [`storage`] puts files at public URLs (local or
//! S3), [`publish`] talks to the Graph API, [`auth`] logs accounts in.
//! Uses the base, story and video crates (docs/architecture.md).

#![warn(missing_docs)]

pub mod auth;
pub mod ledger;
pub mod notify;
pub mod publish;
pub mod storage;
pub mod validate;
