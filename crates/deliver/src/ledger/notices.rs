//! Which notifications were sent ([`crate::notify`]): one key per event and
//! webhook, claimed before sending so an event goes out once, released
//! when sending failed so a later run tries again.

use super::db::params;
use super::{now, Ledger, LedgerError};

impl Ledger {
    /// Records `key` as being sent; false when it was already.
    pub fn claim_notice(&self, key: &str) -> Result<bool, LedgerError> {
        let n = self.exec(
            "INSERT INTO notices (key, sent_at) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING",
            params![key, now()],
        )?;
        Ok(n == 1)
    }

    /// Forgets `key` (its sending failed).
    pub fn release_notice(&self, key: &str) -> Result<(), LedgerError> {
        self.exec("DELETE FROM notices WHERE key = ?1", params![key])
            .map(|_| ())
    }
}
