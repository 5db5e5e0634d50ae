//! The allocator's policy, set before any thread starts.
//!
//! glibc gives each thread that meets a locked arena an arena of its own, up to eight per core,
//! and keeps what each arena once held. The server runs a tokio runtime per county plus the
//! blocking pool, so a long-running `serve` spreads its sessions' short-lived memory over
//! dozens of arenas that never shrink back. In the 30-minute soak run (SECURITY.md) that looked
//! like a leak: RSS grew from 1.0 to 2.7 GB while the live heap stayed flat. Capping the arenas
//! at the number of cores keeps the allocator's spread to what the cores can contend for.
//!
//! A `MALLOC_ARENA_MAX` in the environment is the operator's choice and is left alone.
//!
//! Only the processes that run until stopped are capped (`serve`, and a cluster's scheduler and
//! executors). A command that runs and exits gives its memory back as it ends,
//! and capped, its threads queue for two arenas: `tenant refresh --all` of ten counties took
//! 5.0-6.3 s capped, against 4.0 s with the default arenas.

/// Caps glibc's malloc arenas at the number of cores (at least 2), unless `MALLOC_ARENA_MAX`
/// is set. Call it in `main` for the long-running processes, before any thread is started.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn cap_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let arenas = libc::c_int::try_from(cores.max(2)).unwrap_or(libc::c_int::MAX);
    // SAFETY: `mallopt` only sets a tunable of the allocator; it is called before any other
    // thread exists, so no allocation is in flight in another arena. A refusal (return 0)
    // leaves glibc's default, which is correct, only roomier.
    let _ = unsafe { libc::mallopt(libc::M_ARENA_MAX, arenas) };
}

/// Other platforms' allocators have their own policies; nothing to set.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn cap_arenas() {}

/// How often a running server hands its allocator's free pages back.
pub const TRIM_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// Starts a thread that, every `every`, hands the pages glibc keeps free inside its arenas
/// back to the system (`malloc_trim`). glibc returns memory by itself only from the top of
/// an arena, so a server whose sessions and queries come and go keeps the high-water mark of
/// every arena for good: in the soak run, 1.1 GB of a 1.6 GB RSS was such free memory (one
/// `malloc_trim` left 497 MB). Each trim is logged at debug level (`GRIDASSESS_LOG=allocator=debug`)
/// with how long it took and what it gave back.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn trim_every(every: std::time::Duration) {
    let started = std::thread::Builder::new()
        .name("allocator-trim".into())
        .spawn(move || {
            loop {
                std::thread::sleep(every);
                let before = resident_kb();
                let began = std::time::Instant::now();
                // SAFETY: `malloc_trim` takes each arena's lock in turn; it is safe to call
                // from any thread at any time.
                let _ = unsafe { libc::malloc_trim(0) };
                tracing::debug!(
                    target: "allocator",
                    ms = began.elapsed().as_secs_f64() * 1000.0,
                    resident_mb_before = before / 1024,
                    resident_mb_after = resident_kb() / 1024,
                    "free pages handed back"
                );
            }
        });
    if let Err(e) = started {
        tracing::warn!(error = %e, "cannot start the allocator's trim thread; memory the server frees stays with it");
    }
}

/// Other platforms' allocators hand memory back by themselves.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn trim_every(_every: std::time::Duration) {}

/// The process's resident memory in KiB (0 if it cannot be read).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn resident_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}
