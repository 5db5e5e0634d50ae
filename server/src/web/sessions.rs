//! The console's logins: a random token in an HttpOnly, SameSite=Strict cookie, a CSRF token
//! the pages send back in `X-CSRF-Token`, and the user as they logged in (a removal or a change
//! of password, counties or role ends the session at its next request, as on pg-wire).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::users::User;

/// A session unused this long ends.
pub(crate) const IDLE: Duration = Duration::from_secs(30 * 60);
/// A session ends this long after its login, used or not.
pub(crate) const LONGEST: Duration = Duration::from_secs(8 * 60 * 60);
/// The most sessions one user keeps; past it, that user's least recently used one ends (a
/// script that logs in over and over pushes out its own sessions, nobody else's).
pub(crate) const MOST_PER_USER: usize = 20;
/// The most sessions kept in all; past it, the least recently used one ends. With the cap per
/// user, reaching it takes 500 users' worth of sessions: this bounds memory, not honest use.
const MOST: usize = 10_000;

/// The cookie that carries the session token.
pub(crate) const COOKIE: &str = "gridassess_session";

/// One logged-in browser (or script).
#[derive(Debug, Clone)]
pub(crate) struct WebSession {
    pub(crate) user: User,
    pub(crate) csrf: String,
    started: Instant,
    last_seen: Instant,
}

/// The open sessions by token.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    open: Mutex<HashMap<String, WebSession>>,
}

impl Sessions {
    /// Opens a session for `user`; its token and CSRF token.
    pub(crate) fn open(&self, user: User) -> std::io::Result<(String, String)> {
        let (token, csrf) = (random_token()?, random_token()?);
        let now = Instant::now();
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.retain(|_, s| s.alive(now));
        let least_recent = |open: &HashMap<String, WebSession>, of_user: bool| {
            open.iter()
                .filter(|(_, s)| !of_user || s.user.name == user.name)
                .min_by_key(|(_, s)| s.last_seen)
                .map(|(t, _)| t.clone())
        };
        let of_user = open.values().filter(|s| s.user.name == user.name).count();
        if of_user >= MOST_PER_USER
            && let Some(oldest) = least_recent(&open, true)
        {
            open.remove(&oldest);
        } else if open.len() >= MOST
            && let Some(oldest) = least_recent(&open, false)
        {
            open.remove(&oldest);
        }
        open.insert(
            token.clone(),
            WebSession {
                user,
                csrf: csrf.clone(),
                started: now,
                last_seen: now,
            },
        );
        Ok((token, csrf))
    }

    /// The session of `token`, when it is still open (and marks it used).
    pub(crate) fn get(&self, token: &str) -> Option<WebSession> {
        let now = Instant::now();
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        match open.get_mut(token) {
            Some(s) if s.alive(now) => {
                s.last_seen = now;
                Some(s.clone())
            }
            Some(_) => {
                open.remove(token);
                None
            }
            None => None,
        }
    }

    /// The user of `token`'s open session, without marking it used (for the audit line).
    pub(crate) fn peek(&self, token: &str) -> Option<User> {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.get(token)
            .filter(|s| s.alive(Instant::now()))
            .map(|s| s.user.clone())
    }

    /// Ends the session of `token` (logout, or its user no longer stands).
    pub(crate) fn end(&self, token: &str) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.remove(token);
    }

    #[cfg(test)]
    fn age(&self, token: &str, by: Duration) {
        let mut open = self.open.lock().unwrap();
        if let Some(s) = open.get_mut(token) {
            s.started = s.started.checked_sub(by).expect("an instant that far back");
            s.last_seen = s
                .last_seen
                .checked_sub(by)
                .expect("an instant that far back");
        }
    }
}

impl WebSession {
    fn alive(&self, now: Instant) -> bool {
        now.duration_since(self.last_seen) < IDLE && now.duration_since(self.started) < LONGEST
    }
}

/// 32 random bytes from the operating system, as hex.
fn random_token() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom_std::getrandom(&mut bytes).map_err(std::io::Error::other)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Whether two secrets are equal, in time that does not depend on where they differ.
pub(crate) fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::access::Role;

    fn user() -> User {
        User {
            name: "wang".into(),
            tenants: vec!["a".into()],
            role: Role::Analyst,
            password_hash: "x".into(),
        }
    }

    #[test]
    fn a_session_is_found_by_its_token_until_it_ends() {
        let sessions = Sessions::default();
        let (token, csrf) = sessions.open(user()).unwrap();
        assert_eq!(token.len(), 64);
        assert_ne!(token, csrf);
        assert_eq!(sessions.get(&token).unwrap().csrf, csrf);
        assert!(sessions.get("not-a-token").is_none());
        sessions.end(&token);
        assert!(sessions.get(&token).is_none());
    }

    #[test]
    fn an_idle_or_old_session_expires() {
        let sessions = Sessions::default();
        let (idle, _) = sessions.open(user()).unwrap();
        sessions.age(&idle, IDLE + Duration::from_secs(1));
        assert!(sessions.get(&idle).is_none());
        let (used, _) = sessions.open(user()).unwrap();
        assert!(sessions.get(&used).is_some());
    }

    #[test]
    fn a_user_logging_in_over_and_over_pushes_out_only_their_own_sessions() {
        let sessions = Sessions::default();
        let other = User {
            name: "li".into(),
            ..user()
        };
        let (kept, _) = sessions.open(other).unwrap();
        let (first, _) = sessions.open(user()).unwrap();
        for _ in 0..MOST_PER_USER * 3 {
            sessions.open(user()).unwrap();
        }
        assert!(
            sessions.get(&kept).is_some(),
            "another user's session was pushed out"
        );
        assert!(sessions.get(&first).is_none());
        let open = sessions.open.lock().unwrap();
        assert_eq!(
            open.values().filter(|s| s.user.name == "wang").count(),
            MOST_PER_USER
        );
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
    }
}
