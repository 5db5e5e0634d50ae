//! Users of the SQL interfaces: who they are, which tenants they may read, and with which role
//! (SPEC §5). Passwords are kept only as slow salted hashes (Argon2id, PHC strings) in
//! `users.json` at the warehouse root.

use std::collections::BTreeMap;
use std::path::PathBuf;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use serde::{Deserialize, Serialize};

use engine::access::Role;
use warehouse::{Warehouse, WarehouseError, read_json, write_json};

/// Why a user could not be added, removed or checked.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// A name that cannot be a PostgreSQL user name.
    #[error(
        "user name '{name}' is not valid: use 1–63 letters, digits, '_', '-' or '.', starting with a letter"
    )]
    InvalidName {
        /// The name given.
        name: String,
    },
    /// `user add` of an existing name.
    #[error("user '{name}' already exists (remove it first to change it)")]
    Exists {
        /// The name given.
        name: String,
    },
    /// No user of that name.
    #[error("unknown user '{name}'")]
    Unknown {
        /// The name given.
        name: String,
    },
    /// A change made for the admin of some counties, to a user who also reads others.
    #[error("user '{name}' also reads counties that are not yours")]
    Outside {
        /// The user.
        name: String,
    },
    /// A user without a tenant could read nothing.
    #[error("a user needs at least one tenant")]
    NoTenant,
    /// An empty password.
    #[error("the password is empty")]
    EmptyPassword,
    /// The operating system gave no random bytes for a salt.
    #[error("cannot get random bytes for a password salt")]
    Salt {
        /// What getrandom said.
        source: getrandom_std::Error,
    },
    /// Argon2 refused to hash (its error type is not a `std` error: quoted, not chained).
    #[error("hashing the password: {message}")]
    Hash {
        /// What argon2 said.
        message: String,
    },
    /// The users file's lock cannot be taken.
    #[error("cannot lock {}: {source}", path.display())]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The users file or a tenant cannot be read.
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
}

/// A stored user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    /// The login name.
    pub name: String,
    /// The tenants the user may read.
    pub tenants: Vec<String>,
    /// What the user sees of them.
    pub role: Role,
    /// Argon2id PHC string: algorithm, parameters, salt and hash; never the password.
    pub password_hash: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct UserFile {
    users: BTreeMap<String, User>,
}

/// The users of one warehouse.
pub struct Users {
    path: PathBuf,
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.len() <= 63
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

impl Users {
    /// The users of `warehouse` (`users.json` in its folder).
    pub fn of(warehouse: &Warehouse) -> Users {
        Users {
            path: warehouse.root().join("users.json"),
        }
    }

    /// Holds `users.lock` for one read-modify-write of `users.json`: the CLI and county admins
    /// in the console may change users at the same moment, and neither change may be lost
    /// (the file itself is replaced atomically, but two writers would each write what they
    /// read). Released when the returned file is dropped.
    fn changing(&self) -> Result<std::fs::File, UserError> {
        let path = self.path.with_extension("lock");
        let locked = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .and_then(|file| file.lock().map(|()| file));
        locked.map_err(|source| UserError::Lock { path, source })
    }

    fn load(&self) -> Result<UserFile, UserError> {
        if !self.path.exists() {
            return Ok(UserFile::default());
        }
        Ok(read_json(&self.path)?)
    }

    /// Adds a user after checking the tenants exist; the password is hashed here and dropped.
    pub fn add(
        &self,
        warehouse: &Warehouse,
        name: &str,
        tenants: &[String],
        role: Role,
        password: &str,
    ) -> Result<User, UserError> {
        if !valid_name(name) {
            return Err(UserError::InvalidName { name: name.into() });
        }
        if tenants.is_empty() {
            return Err(UserError::NoTenant);
        }
        for t in tenants {
            warehouse.tenant(t)?;
        }
        if password.is_empty() {
            return Err(UserError::EmptyPassword);
        }
        let hash = hash_password(password)?;
        let _lock = self.changing()?;
        let mut file = self.load()?;
        if file.users.contains_key(name) {
            return Err(UserError::Exists { name: name.into() });
        }
        let user = User {
            name: name.into(),
            tenants: tenants.to_vec(),
            role,
            password_hash: hash,
        };
        file.users.insert(name.into(), user.clone());
        write_json(&self.path, &file)?;
        Ok(user)
    }

    /// Gives `name` a new password (their open sessions end at their next statement or page,
    /// as after any change of the user).
    pub fn set_password(&self, name: &str, password: &str) -> Result<User, UserError> {
        self.set_password_inner(name, password, None)
    }

    /// [`Users::set_password`] for the admin of `within`: refused ([`UserError::Outside`])
    /// when the user reads any other county, checked under the lock.
    pub fn set_password_within(
        &self,
        name: &str,
        password: &str,
        within: &[String],
    ) -> Result<User, UserError> {
        self.set_password_inner(name, password, Some(within))
    }

    fn set_password_inner(
        &self,
        name: &str,
        password: &str,
        within: Option<&[String]>,
    ) -> Result<User, UserError> {
        if password.is_empty() {
            return Err(UserError::EmptyPassword);
        }
        let hash = hash_password(password)?;
        let _lock = self.changing()?;
        let mut file = self.load()?;
        let user = file
            .users
            .get_mut(name)
            .ok_or_else(|| UserError::Unknown { name: name.into() })?;
        check_within(user, within)?;
        user.password_hash = hash;
        let user = user.clone();
        write_json(&self.path, &file)?;
        Ok(user)
    }

    /// The user named `name`, if there is one.
    pub fn get(&self, name: &str) -> Result<Option<User>, UserError> {
        Ok(self.load()?.users.remove(name))
    }

    /// Removes a user.
    pub fn remove(&self, name: &str) -> Result<(), UserError> {
        self.remove_inner(name, None)
    }

    /// [`Users::remove`] for the admin of `within`: refused ([`UserError::Outside`]) when the
    /// user reads any other county, checked under the lock.
    pub fn remove_within(&self, name: &str, within: &[String]) -> Result<(), UserError> {
        self.remove_inner(name, Some(within))
    }

    fn remove_inner(&self, name: &str, within: Option<&[String]>) -> Result<(), UserError> {
        let _lock = self.changing()?;
        let mut file = self.load()?;
        let user = file
            .users
            .get(name)
            .ok_or_else(|| UserError::Unknown { name: name.into() })?;
        check_within(user, within)?;
        file.users.remove(name);
        write_json(&self.path, &file)?;
        Ok(())
    }

    /// Every user, by name.
    pub fn list(&self) -> Result<Vec<User>, UserError> {
        Ok(self.load()?.users.into_values().collect())
    }

    /// Whether `user` (as it logged in) still stands unchanged: not removed, and the same
    /// password, tenants and role. A session whose user no longer stands must end.
    pub fn still_stands(&self, user: &User) -> Result<bool, UserError> {
        Ok(self.load()?.users.get(&user.name).is_some_and(|now| {
            now.password_hash == user.password_hash
                && now.tenants == user.tenants
                && now.role == user.role
        }))
    }

    /// The counties granted to `name`, or none for an unknown user: what a failed login to
    /// that name is filed under in the audit log, so those counties' admins see it.
    pub fn tenants_of(&self, name: &str) -> Result<Vec<String>, UserError> {
        Ok(self
            .load()?
            .users
            .get(name)
            .map(|u| u.tenants.clone())
            .unwrap_or_default())
    }

    /// The user, when `password` is theirs. A wrong password and an unknown user look the
    /// same to the caller, and both cost one hash verification, so neither can be told apart
    /// by the answer or its timing.
    pub fn authenticate(&self, name: &str, password: &str) -> Result<Option<User>, UserError> {
        let file = self.load()?;
        let user = file.users.get(name);
        let stored = user.map_or(dummy_hash(), |u| u.password_hash.as_str());
        let ok = PasswordHash::new(stored)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false);
        Ok(if ok { user.cloned() } else { None })
    }
}

/// Whether a change for the admin of `within` (all counties, for `None`) may touch `user`.
fn check_within(user: &User, within: Option<&[String]>) -> Result<(), UserError> {
    match within {
        Some(within) if !user.tenants.iter().all(|t| within.contains(t)) => {
            Err(UserError::Outside {
                name: user.name.clone(),
            })
        }
        _ => Ok(()),
    }
}

/// The Argon2id PHC string of `password`, with a fresh salt.
fn hash_password(password: &str) -> Result<String, UserError> {
    let salt = new_salt()?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| UserError::Hash {
            message: e.to_string(),
        })?
        .to_string())
}

/// 16 random bytes from the operating system, as a salt.
fn new_salt() -> Result<SaltString, UserError> {
    let mut bytes = [0u8; 16];
    getrandom_std::getrandom(&mut bytes).map_err(|source| UserError::Salt { source })?;
    SaltString::encode_b64(&bytes).map_err(|e| UserError::Hash {
        message: e.to_string(),
    })
}

/// The hash of a throwaway password, verified against when the user does not exist, so that
/// takes as long as a wrong password.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let Ok(salt) = new_salt() else {
            return String::new();
        };
        Argon2::default()
            .hash_password(b"no such user", &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_stored_hashed_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let wh = Warehouse::init(&dir.path().join("wh")).unwrap();
        rt.block_on(wh.add_tenant("a", "甲县")).unwrap();
        let users = Users::of(&wh);
        users
            .add(&wh, "qa", &["a".into()], Role::Analyst, "s3cret-密码")
            .unwrap();
        let stored = std::fs::read_to_string(dir.path().join("wh/users.json")).unwrap();
        assert!(!stored.contains("s3cret"), "{stored}");
        assert!(stored.contains("$argon2id$"));
        assert_eq!(
            users
                .authenticate("qa", "s3cret-密码")
                .unwrap()
                .unwrap()
                .role,
            Role::Analyst
        );
        assert!(users.authenticate("qa", "wrong").unwrap().is_none());
        assert!(
            users
                .authenticate("nobody", "s3cret-密码")
                .unwrap()
                .is_none()
        );
        assert!(matches!(
            users.add(&wh, "qa", &["a".into()], Role::Admin, "x"),
            Err(UserError::Exists { .. })
        ));
        assert!(matches!(
            users.add(&wh, "qb", &["zz".into()], Role::Admin, "x"),
            Err(UserError::Warehouse(WarehouseError::UnknownTenant { .. }))
        ));
        assert!(matches!(
            users.add(&wh, "1bad", &["a".into()], Role::Admin, "x"),
            Err(UserError::InvalidName { .. })
        ));
        let before = users.get("qa").unwrap().unwrap().password_hash;
        users.set_password("qa", "new-密码").unwrap();
        assert_ne!(users.get("qa").unwrap().unwrap().password_hash, before);
        assert!(users.authenticate("qa", "s3cret-密码").unwrap().is_none());
        assert!(users.authenticate("qa", "new-密码").unwrap().is_some());
        assert!(matches!(
            users.set_password("nobody", "x"),
            Err(UserError::Unknown { .. })
        ));
    }

    /// The CLI and two county admins adding users at the same moment: every one is kept.
    #[test]
    fn users_added_at_once_are_all_kept() {
        let dir = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let wh = Warehouse::init(&dir.path().join("wh")).unwrap();
        rt.block_on(wh.add_tenant("a", "甲县")).unwrap();
        std::thread::scope(|s| {
            for i in 0..16 {
                let wh = &wh;
                s.spawn(move || {
                    Users::of(wh)
                        .add(wh, &format!("u{i}"), &["a".into()], Role::Viewer, "pw")
                        .unwrap();
                });
            }
        });
        assert_eq!(Users::of(&wh).list().unwrap().len(), 16);
    }
}
