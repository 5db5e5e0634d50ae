//! Who may come in, and how many at once: a cap on connections (overall, per user, per tenant),
//! a cap on concurrent password checks, and back-off then lockout after failed logins, per user
//! and per client address.
//!
//! Argon2 is slow and memory-hungry on purpose (19 MiB per check): without a cap, 96 parallel
//! wrong passwords raised the server's memory by a gigabyte, and without back-off an attacker
//! tries 30 passwords a second. The caps make a flood wait in line instead of growing the
//! process, and the lockout makes guessing hopeless without locking the office out for long.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The caps. The defaults suit a county office's server (a few dozen staff and BI tools).
#[derive(Debug, Clone)]
pub struct AdmissionLimits {
    /// Open connections in all, authenticated or not.
    pub max_connections: usize,
    /// Open connections of one user.
    pub max_connections_per_user: usize,
    /// Open connections reading one tenant.
    pub max_connections_per_tenant: usize,
    /// Password checks running at once; more wait in line.
    pub concurrent_password_checks: usize,
    /// How long a login waits in that line before it is told the server is busy.
    pub password_check_wait: Duration,
    /// Failed logins of a user before each further try is delayed.
    pub failures_before_backoff: u32,
    /// Failed logins of a user before it is locked out.
    pub failures_before_lockout: u32,
    /// An address counts this many times the user thresholds: a county office behind one NAT
    /// address holds many users, and one of them mistyping must not lock the others out, while
    /// one client spraying passwords over many user names is still stopped.
    pub address_factor: u32,
    /// How long a lockout lasts; failures older than this, with no lockout running, are
    /// forgotten.
    pub lockout: Duration,
    /// Users and addresses whose failures are remembered at once. Past it, the oldest that is
    /// not locked out is forgotten first: a flood of made-up user names (or IPv6 addresses)
    /// cannot grow the server's memory, nor lift a running lockout.
    pub max_tracked: usize,
}

impl Default for AdmissionLimits {
    fn default() -> Self {
        AdmissionLimits {
            max_connections: 100,
            max_connections_per_user: 10,
            max_connections_per_tenant: 40,
            concurrent_password_checks: 2,
            password_check_wait: Duration::from_secs(10),
            failures_before_backoff: 3,
            failures_before_lockout: 10,
            address_factor: 5,
            lockout: Duration::from_secs(15 * 60),
            max_tracked: 100_000,
        }
    }
}

/// Why a connection or login was turned away.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Turned {
    /// The server has `max` connections open.
    #[error("the server has {max} connections open, its limit; try again later")]
    ServerFull {
        /// The cap.
        max: usize,
    },
    /// The user has `max` connections open.
    #[error("user {user} has {max} connections open, the limit per user; close one first")]
    UserFull {
        /// The user.
        user: String,
        /// The cap.
        max: usize,
    },
    /// The tenant has `max` connections open.
    #[error("county {tenant} has {max} connections open, the limit per county; try again later")]
    TenantFull {
        /// The tenant.
        tenant: String,
        /// The cap.
        max: usize,
    },
    /// Too many failed logins: of this user, or from this address.
    #[error("too many failed logins {who}; locked for {minutes} more minute(s)")]
    LockedOut {
        /// "for user x" or "from 10.0.0.7".
        who: String,
        /// Whole minutes left, rounded up.
        minutes: u64,
    },
    /// Every password check slot stayed busy.
    #[error("the server is busy checking other logins; try again in a moment")]
    Busy,
}

impl Turned {
    /// The PostgreSQL SQLSTATE a client is told.
    pub fn sqlstate(&self) -> &'static str {
        match self {
            // too_many_connections
            Turned::ServerFull { .. } | Turned::UserFull { .. } | Turned::TenantFull { .. } => {
                "53300"
            }
            // invalid_authorization_specification
            Turned::LockedOut { .. } => "28000",
            // cannot_connect_now
            Turned::Busy => "57P03",
        }
    }
}

/// Failed logins of one user or from one address.
#[derive(Debug, Default, Clone, Copy)]
struct Failures {
    count: u32,
    locked_until: Option<Instant>,
    /// The latest failure.
    last: Option<Instant>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Who {
    User(String),
    Address(IpAddr),
}

impl std::fmt::Display for Who {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Who::User(u) => write!(f, "for user {u}"),
            Who::Address(a) => write!(f, "from {a}"),
        }
    }
}

#[derive(Debug, Default)]
struct Open {
    per_user: HashMap<String, usize>,
    per_tenant: HashMap<String, usize>,
}

/// The server's admission state, shared by every connection.
#[derive(Debug)]
pub struct Admission {
    limits: AdmissionLimits,
    connections: Arc<Semaphore>,
    checks: Semaphore,
    failures: Mutex<HashMap<Who, Failures>>,
    open: Arc<Mutex<Open>>,
}

/// A connection's place in the overall cap, held until the connection ends.
#[derive(Debug)]
pub struct ConnectionSlot(#[allow(dead_code)] OwnedSemaphorePermit);

/// An authenticated session's place in its user's and tenants' caps, given back when dropped.
#[derive(Debug)]
pub struct SessionSlot {
    user: String,
    tenants: Vec<String>,
    open: Arc<Mutex<Open>>,
}

impl Drop for SessionSlot {
    fn drop(&mut self) {
        let mut open = lock(&self.open);
        release(&mut open.per_user, &self.user);
        for t in &self.tenants {
            release(&mut open.per_tenant, t);
        }
    }
}

fn release(counts: &mut HashMap<String, usize>, key: &str) {
    if let Some(n) = counts.get_mut(key) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            counts.remove(key);
        }
    }
}

/// A poisoned lock only means another connection panicked while counting: the counts are
/// still whole numbers, so keep using them rather than refusing everyone.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Admission {
    /// Admission under `limits`.
    pub fn new(limits: AdmissionLimits) -> Admission {
        Admission {
            connections: Arc::new(Semaphore::new(limits.max_connections)),
            checks: Semaphore::new(limits.concurrent_password_checks.max(1)),
            failures: Mutex::new(HashMap::new()),
            open: Arc::new(Mutex::new(Open::default())),
            limits,
        }
    }

    /// A place for a new connection, or why there is none.
    pub fn connect(&self) -> Result<ConnectionSlot, Turned> {
        self.connections
            .clone()
            .try_acquire_owned()
            .map(ConnectionSlot)
            .map_err(|_| Turned::ServerFull {
                max: self.limits.max_connections,
            })
    }

    /// Before a password is checked: refused while the user or the address is locked out;
    /// otherwise how long to wait first (zero until a few failures have been seen).
    pub fn before_login(&self, user: &str, address: IpAddr) -> Result<Duration, Turned> {
        let now = Instant::now();
        let failures = lock(&self.failures);
        let mut delay = Duration::ZERO;
        for who in [Who::User(user.to_string()), Who::Address(address)] {
            let Some(f) = failures.get(&who).filter(|f| !self.forgotten(f, now)) else {
                continue;
            };
            if let Some(until) = f.locked_until
                && until > now
            {
                return Err(Turned::LockedOut {
                    who: who.to_string(),
                    minutes: (until - now).as_secs().div_ceil(60).max(1),
                });
            }
            delay = delay.max(self.backoff(&who, f.count));
        }
        Ok(delay)
    }

    /// Whether failures are past remembering: a lockout that ran out, or, with none, a last
    /// failure longer ago than a lockout lasts.
    fn forgotten(&self, f: &Failures, now: Instant) -> bool {
        match f.locked_until {
            Some(until) => until <= now,
            None => f
                .last
                .is_none_or(|t| now.saturating_duration_since(t) >= self.limits.lockout),
        }
    }

    /// Makes room for one more entry when the map is full: forgotten entries go; if that is
    /// not a tenth of it, those not locked out whose last failure is oldest go too (locked ones
    /// only when nearly every entry is locked), down to nine tenths. Clearing a tenth at a time
    /// keeps a flood's cost per failed login small.
    fn make_room(&self, failures: &mut HashMap<Who, Failures>, now: Instant) {
        let cap = self.limits.max_tracked.max(1);
        if failures.len() < cap {
            return;
        }
        failures.retain(|_, f| !self.forgotten(f, now));
        let keep = cap - cap.div_ceil(10);
        if failures.len() <= keep {
            return;
        }
        let mut by_age: Vec<((bool, Option<Instant>), Who)> = failures
            .iter()
            .map(|(who, f)| ((f.locked_until.is_some(), f.last), who.clone()))
            .collect();
        let cut = by_age.len() - keep;
        by_age.select_nth_unstable_by_key(cut - 1, |(rank, _)| *rank);
        for (_, who) in &by_age[..cut] {
            failures.remove(who);
        }
    }

    /// How many times the user thresholds apply to `who`.
    fn factor(&self, who: &Who) -> u32 {
        match who {
            Who::User(_) => 1,
            Who::Address(_) => self.limits.address_factor.max(1),
        }
    }

    /// 1 s, 2 s, 4 s … (at most 8 s) per failure past the back-off threshold.
    fn backoff(&self, who: &Who, count: u32) -> Duration {
        let threshold = self.limits.failures_before_backoff * self.factor(who);
        let past = count.saturating_sub(threshold.saturating_sub(1));
        if past == 0 {
            Duration::ZERO
        } else {
            Duration::from_secs(1 << (past - 1).min(3))
        }
    }

    /// Runs a password check when a slot is free, waiting at most `password_check_wait`.
    pub async fn check_password<T: Send + 'static>(
        &self,
        check: impl FnOnce() -> T + Send + 'static,
    ) -> Result<Result<T, tokio::task::JoinError>, Turned> {
        let permit = tokio::time::timeout(self.limits.password_check_wait, self.checks.acquire())
            .await
            .map_err(|_| Turned::Busy)?
            .map_err(|_| Turned::Busy)?;
        let result = tokio::task::spawn_blocking(check).await;
        drop(permit);
        Ok(result)
    }

    /// Records a wrong password; says when it locked the user or the address out.
    pub fn failed(&self, user: &str, address: IpAddr) -> Vec<Turned> {
        let now = Instant::now();
        let mut failures = lock(&self.failures);
        let mut locked = Vec::new();
        for who in [Who::User(user.to_string()), Who::Address(address)] {
            if !failures.contains_key(&who) {
                self.make_room(&mut failures, now);
            }
            let f = failures.entry(who.clone()).or_default();
            if self.forgotten(f, now) {
                // A lockout that ran out, or failures long past, start the count again.
                *f = Failures::default();
            }
            f.count += 1;
            f.last = Some(now);
            if f.count >= self.limits.failures_before_lockout * self.factor(&who)
                && f.locked_until.is_none()
            {
                f.locked_until = Some(now + self.limits.lockout);
                locked.push(Turned::LockedOut {
                    who: who.to_string(),
                    minutes: self.limits.lockout.as_secs().div_ceil(60),
                });
            }
        }
        locked
    }

    /// Forgets the failures of a user and an address after a good login.
    pub fn succeeded(&self, user: &str, address: IpAddr) {
        let mut failures = lock(&self.failures);
        failures.remove(&Who::User(user.to_string()));
        failures.remove(&Who::Address(address));
    }

    /// A place for an authenticated session of `user` over `tenants`, or why there is none.
    pub fn open_session(&self, user: &str, tenants: &[String]) -> Result<SessionSlot, Turned> {
        let mut open = lock(&self.open);
        if open.per_user.get(user).copied().unwrap_or(0) >= self.limits.max_connections_per_user {
            return Err(Turned::UserFull {
                user: user.to_string(),
                max: self.limits.max_connections_per_user,
            });
        }
        for t in tenants {
            if open.per_tenant.get(t).copied().unwrap_or(0)
                >= self.limits.max_connections_per_tenant
            {
                return Err(Turned::TenantFull {
                    tenant: t.clone(),
                    max: self.limits.max_connections_per_tenant,
                });
            }
        }
        *open.per_user.entry(user.to_string()).or_default() += 1;
        for t in tenants {
            *open.per_tenant.entry(t.clone()).or_default() += 1;
        }
        Ok(SessionSlot {
            user: user.to_string(),
            tenants: tenants.to_vec(),
            open: self.open.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admission() -> Admission {
        Admission::new(AdmissionLimits {
            max_connections: 2,
            max_connections_per_user: 1,
            max_connections_per_tenant: 2,
            lockout: Duration::from_secs(60),
            ..AdmissionLimits::default()
        })
    }

    const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 7));
    const AWAY: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 8));

    #[test]
    fn wrong_passwords_back_off_then_lock_the_user_and_the_address() {
        let a = admission();
        assert_eq!(a.before_login("qa", HOME), Ok(Duration::ZERO));
        for _ in 0..2 {
            assert!(a.failed("qa", HOME).is_empty());
        }
        assert_eq!(a.before_login("qa", HOME), Ok(Duration::ZERO));
        a.failed("qa", HOME);
        assert_eq!(a.before_login("qa", HOME), Ok(Duration::from_secs(1)));
        a.failed("qa", HOME);
        assert_eq!(a.before_login("qa", HOME), Ok(Duration::from_secs(2)));
        for _ in 0..4 {
            a.failed("qa", HOME);
        }
        assert_eq!(a.before_login("qa", HOME), Ok(Duration::from_secs(8)));
        assert!(a.failed("qa", HOME).is_empty(), "nine failures: not yet");
        let locked = a.failed("qa", HOME);
        assert_eq!(locked.len(), 1, "{locked:?}");
        // Locked for the user from anywhere.
        let err = a.before_login("qa", AWAY).unwrap_err();
        assert_eq!(err.sqlstate(), "28000");
        assert!(err.to_string().contains("for user qa"), "{err}");
        // The address, shared by an office, is not locked by one user's mistakes …
        assert_eq!(a.before_login("colleague", HOME), Ok(Duration::ZERO));
        // … but one client spraying passwords over many names is.
        for n in 0..40 {
            a.failed(&format!("guess{n}"), HOME);
        }
        let err = a.before_login("colleague", HOME).unwrap_err();
        assert!(err.to_string().contains("from 10.0.0.7"), "{err}");
        // Another user from another address is not affected.
        assert_eq!(a.before_login("other", AWAY), Ok(Duration::ZERO));
    }

    #[test]
    fn failures_long_past_are_forgotten() {
        let a = Admission::new(AdmissionLimits {
            lockout: Duration::from_millis(100),
            ..AdmissionLimits::default()
        });
        for _ in 0..5 {
            a.failed("qa", HOME);
        }
        assert_eq!(a.before_login("qa", HOME), Ok(Duration::from_secs(4)));
        std::thread::sleep(Duration::from_millis(150));
        assert_eq!(a.before_login("qa", HOME), Ok(Duration::ZERO));
        assert!(a.failed("qa", HOME).is_empty(), "the count starts again");
        assert_eq!(a.before_login("qa", HOME), Ok(Duration::ZERO));
    }

    #[test]
    fn a_flood_of_names_neither_grows_memory_nor_lifts_a_lockout() {
        let a = Admission::new(AdmissionLimits {
            max_tracked: 50,
            ..AdmissionLimits::default()
        });
        for _ in 0..10 {
            a.failed("qa", HOME);
        }
        assert!(a.before_login("qa", AWAY).is_err(), "locked");
        for n in 0..5_000u32 {
            let address = IpAddr::V6(std::net::Ipv6Addr::from(u128::from(n) + 1));
            a.failed(&format!("made-up-{n}"), address);
        }
        assert!(lock(&a.failures).len() <= 50, "{}", lock(&a.failures).len());
        assert!(a.before_login("qa", AWAY).is_err(), "still locked");
    }

    #[test]
    fn a_good_login_forgets_the_failures() {
        let a = admission();
        for _ in 0..5 {
            a.failed("qa", HOME);
        }
        a.succeeded("qa", HOME);
        assert_eq!(a.before_login("qa", HOME), Ok(Duration::ZERO));
    }

    #[test]
    fn connections_are_capped_overall_per_user_and_per_tenant() {
        let a = admission();
        let first = a.connect().unwrap();
        let _second = a.connect().unwrap();
        assert_eq!(
            a.connect().unwrap_err(),
            Turned::ServerFull { max: 2 },
            "a third connection waits for one to close"
        );
        drop(first);
        let _third = a.connect().unwrap();

        let tenants = ["a".to_string()];
        let session = a.open_session("qa", &tenants).unwrap();
        assert!(matches!(
            a.open_session("qa", &tenants),
            Err(Turned::UserFull { .. })
        ));
        let _other = a.open_session("other", &tenants).unwrap();
        assert!(matches!(
            a.open_session("third", &tenants),
            Err(Turned::TenantFull { .. })
        ));
        drop(session);
        a.open_session("qa", &tenants)
            .expect("a closed session gives its place back");
    }

    #[tokio::test]
    async fn password_checks_wait_in_line_and_a_full_line_is_busy() {
        let a = Arc::new(Admission::new(AdmissionLimits {
            concurrent_password_checks: 1,
            password_check_wait: Duration::from_millis(200),
            ..AdmissionLimits::default()
        }));
        let slow = {
            let a = a.clone();
            tokio::spawn(async move {
                a.check_password(|| std::thread::sleep(Duration::from_secs(1)))
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(a.check_password(|| ()).await.unwrap_err(), Turned::Busy);
        assert!(slow.await.unwrap().is_ok());
        assert!(a.check_password(|| ()).await.is_ok());
    }
}
