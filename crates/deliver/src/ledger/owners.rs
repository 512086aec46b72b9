//! Who holds a claim: owner ids are `process/run`, the process's 128
//! random bits (never a host name or pid: containers share both) and the
//! run's; a run of this process is alive until it ends, any other owner
//! until its lease or heartbeat runs out.

/// The owners this process has made and not yet let go of: several runs
/// may share one process (the dashboard, its tick, "publish now"), and a
/// live one's claims must never be taken over by another.
static LIVE_OWNERS: std::sync::Mutex<std::collections::BTreeSet<String>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

fn live_owners() -> std::sync::MutexGuard<'static, std::collections::BTreeSet<String>> {
    LIVE_OWNERS.lock().unwrap_or_else(|p| p.into_inner())
}

/// This process's id: 128 random bits, drawn once. Neither the host name
/// nor the pid counts (containers share both: each is often pid 1).
pub(super) fn process_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        let mut bytes = [0u8; 16];
        if getrandom::fill(&mut bytes).is_err() {
            // No system randomness: a clock-seeded generator still makes
            // a collision between two processes all but impossible.
            let mut rng = fastrand::Rng::new();
            bytes.iter_mut().for_each(|b| *b = rng.u8(..));
        }
        hex::encode(bytes)
    })
}

/// A new owner id for one run of this process (`process/nonce`: the
/// process's random id and the run's), live until [`owner_done`].
pub fn owner_id() -> String {
    let id = format!("{}/{:08x}", process_id(), fastrand::u32(..));
    live_owners().insert(id.clone());
    id
}

/// The run behind `owner` has ended: claims it left behind may be taken
/// over at once by another run of this process.
pub fn owner_done(owner: &str) {
    live_owners().remove(owner);
}

/// False only when `owner` certainly is gone: a run of this process that
/// has ended. Any other owner (another process, on this host or another,
/// or an earlier release's `host/pid/nonce`) is alive until its lease runs
/// out: a process that dies stops renewing, and that is all that tells.
pub(crate) fn owner_alive(owner: &str) -> bool {
    !is_this_process(owner) || live_owners().contains(owner)
}

/// True when `owner` is a run of this process.
pub(crate) fn is_this_process(owner: &str) -> bool {
    owner
        .split_once('/')
        .is_some_and(|(process, _)| process == process_id())
}
