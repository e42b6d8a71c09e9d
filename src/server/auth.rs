//! Users and passwords: `user:password` lines from a file or an environment variable, checked
//! with SCRAM-SHA-256 (the password never crosses the wire).

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::common::{DataFusionError, Result};
use datafusion_postgres::pgwire::api::auth::sasl::scram::{gen_salted_password, random_nonce};
use datafusion_postgres::pgwire::api::auth::{AuthSource, LoginInfo, Password};
use datafusion_postgres::pgwire::error::PgWireResult;

/// The users a server accepts, with their passwords.
#[derive(Clone, Default)]
pub struct Users {
    passwords: HashMap<String, String>,
}

impl fmt::Debug for Users {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // never the passwords
        let mut names: Vec<&String> = self.passwords.keys().collect();
        names.sort();
        f.debug_struct("Users").field("names", &names).finish()
    }
}

impl Users {
    /// Parses `user:password` entries, one per line (or separated by commas, for an environment
    /// variable); blank lines and lines starting with `#` are skipped. The password is
    /// everything after the first `:`. `source` names where the text came from in errors
    /// (`'users.txt' line 3`); no error repeats a password.
    pub fn parse(text: &str, source: &str, commas: bool) -> Result<Users> {
        let mut passwords = HashMap::new();
        for (number, line) in text.lines().enumerate() {
            let entries: Vec<&str> = if commas {
                line.split(',').collect()
            } else {
                vec![line]
            };
            for entry in entries {
                let entry = entry.trim();
                if entry.is_empty() || entry.starts_with('#') {
                    continue;
                }
                let at = format!("{source} line {}", number + 1);
                let Some((user, password)) = entry.split_once(':') else {
                    return Err(DataFusionError::Configuration(format!(
                        "{at}: expected user:password"
                    )));
                };
                if user.is_empty() || password.is_empty() {
                    return Err(DataFusionError::Configuration(format!(
                        "{at}: the user name and the password must not be empty"
                    )));
                }
                if passwords.insert(user.to_string(), password.to_string()).is_some() {
                    return Err(DataFusionError::Configuration(format!(
                        "{at}: user '{user}' is given twice"
                    )));
                }
            }
        }
        if passwords.is_empty() {
            return Err(DataFusionError::Configuration(format!(
                "{source} holds no user:password entry"
            )));
        }
        Ok(Users { passwords })
    }

    /// Reads a password file: `user:password` lines.
    pub fn from_file(path: &Path) -> Result<Users> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            DataFusionError::IoError(e).context(format!("cannot read password file '{}'", path.display()))
        })?;
        Users::parse(&text, &format!("password file '{}'", path.display()), false)
    }

    /// The user names, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.passwords.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }
}

/// SCRAM's iteration count (PostgreSQL's default).
const ITERATIONS: usize = 4096;

/// The salted passwords SCRAM checks against, made once when the server starts.
#[derive(Debug)]
pub(super) struct UserStore {
    salted: HashMap<String, Password>,
    /// Made-up entries for unknown user names, kept so that a name gets the same salt each
    /// time, as a real user does (at most [`UNKNOWN_NAMES`] at once).
    unknown: std::sync::Mutex<HashMap<String, Password>>,
}

/// How many unknown user names [`UserStore`] remembers.
const UNKNOWN_NAMES: usize = 10_000;

impl UserStore {
    pub(super) fn new(users: &Users) -> UserStore {
        let salted = users
            .passwords
            .iter()
            .map(|(user, password)| {
                let salt = random_nonce().into_bytes();
                let hashed = gen_salted_password(password, &salt, ITERATIONS);
                (user.clone(), Password::new(Some(salt), hashed))
            })
            .collect();
        UserStore {
            salted,
            unknown: std::sync::Mutex::default(),
        }
    }

    pub(super) fn scram(self: &Arc<Self>) -> datafusion_postgres::pgwire::api::auth::sasl::scram::ScramAuth {
        let mut scram = datafusion_postgres::pgwire::api::auth::sasl::scram::ScramAuth::new(
            Arc::clone(self) as Arc<dyn AuthSource>
        );
        scram.set_iterations(ITERATIONS);
        scram
    }
}

#[async_trait]
impl AuthSource for UserStore {
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        let user = login.user().unwrap_or_default();
        if let Some(password) = self.salted.get(user) {
            return Ok(password.clone());
        }
        // An unknown user goes through the same exchange, with a salt of its own that stays the
        // same, and fails at its end as a wrong password does: the answers do not tell which
        // user names exist.
        let mut unknown = self
            .unknown
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if unknown.len() >= UNKNOWN_NAMES {
            unknown.clear();
        }
        Ok(unknown
            .entry(user.to_string())
            .or_insert_with(|| Password::new(Some(random_nonce().into_bytes()), random_nonce().into_bytes()))
            .clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lines_and_comments() {
        let users = Users::parse("# admins\nalice:s3cr:et\n\nbob:pw\n", "file 'u'", false).unwrap();
        assert_eq!(users.names(), vec!["alice", "bob"]);
        assert_eq!(users.passwords["alice"], "s3cr:et");
    }

    #[test]
    fn parses_commas_for_the_environment() {
        let users = Users::parse("alice:a, bob:b", "AGENT_REFUSAL_PASSWORDS", true).unwrap();
        assert_eq!(users.names(), vec!["alice", "bob"]);
    }

    #[test]
    fn errors_name_the_line_and_never_the_password() {
        let e = Users::parse("alice:a\nbob\n", "file 'u'", false).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Invalid or Unsupported Configuration: file 'u' line 2: expected user:password"
        );
        let e = Users::parse("alice:secret\nalice:secret\n", "file 'u'", false).unwrap_err();
        assert!(
            e.to_string().contains("line 2: user 'alice' is given twice"),
            "{e}"
        );
        assert!(!e.to_string().contains("secret"));
        assert!(Users::parse("# nothing\n", "file 'u'", false).is_err());
        assert!(Users::parse(":pw\n", "file 'u'", false).is_err());
        assert!(!format!("{:?}", Users::parse("alice:secret", "x", false).unwrap()).contains("secret"));
    }
}
