//! One connection and the operations the targets need, each with the operation
//! timeout and the password policy request control, each returning a [`Reply`] or an
//! [`LdapFailure`] that names the server. A transport failure marks the session
//! broken so a pool throws it away.

use std::sync::Arc;
use std::time::Duration;

use ldap3::controls::RawControl;
use ldap3::{Ldap, LdapError, LdapResult, Mod, Scope, SearchEntry, SearchOptions};
use writeback_core::Password;

use crate::error::{LdapFailure, Reply};
use crate::ppolicy;

/// The client-side result code for a filter that does not parse (RFC 4511 leaves
/// 80+ to APIs; 87 is `LDAP_FILTER_ERROR` in the C API).
pub const FILTER_ERROR: u32 = 87;

/// Whether an operation can change the directory: a write that times out has an
/// unknown result, a read that times out changed nothing.
#[derive(Clone, Copy)]
enum Sent {
    Read,
    Write,
}

/// Entries a search returned, and whether the server stopped at the size limit.
#[derive(Clone, Debug, Default)]
pub struct Found {
    pub entries: Vec<SearchEntry>,
    /// The server had more entries than the limit (result 4, sizeLimitExceeded).
    pub truncated: bool,
}

/// An open connection (bound or not).
pub struct Session {
    ldap: Ldap,
    server: Arc<str>,
    timeout: Duration,
    broken: bool,
}

impl Session {
    pub(crate) fn new(ldap: Ldap, server: Arc<str>, timeout: Duration) -> Self {
        Session {
            ldap,
            server,
            timeout,
            broken: false,
        }
    }

    pub fn server(&self) -> &str {
        &self.server
    }

    /// Whether the connection failed and must not be used again.
    pub fn is_broken(&mut self) -> bool {
        self.broken || self.ldap.is_closed()
    }

    /// The raw ldap3 handle, for operations not wrapped here. Set the timeout on it
    /// yourself, and call [`Session::mark_broken`] when it fails at the transport level.
    pub fn ldap(&mut self) -> &mut Ldap {
        &mut self.ldap
    }

    /// The time limit of each operation.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Changes the time limit of the next operations (a caller with a deadline
    /// lowers it for one operation and puts it back).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    pub fn mark_broken(&mut self) {
        self.broken = true;
    }

    /// Simple bind, with the password policy control.
    pub async fn bind(&mut self, dn: &str, password: &Password) -> Result<Reply, LdapFailure> {
        let result = self
            .ldap
            .with_timeout(self.timeout)
            .with_controls(ppolicy::request_control())
            .simple_bind(dn, password.expose())
            .await;
        self.finish("bind", Sent::Read, result)
    }

    /// Search with a size limit (0: the server's limit). Result 4 (size limit
    /// exceeded) is not an error: it sets [`Found::truncated`].
    pub async fn search(
        &mut self,
        base: &str,
        scope: Scope,
        filter: &str,
        attributes: &[&str],
        size_limit: i32,
    ) -> Result<Found, LdapFailure> {
        let result = self
            .ldap
            .with_timeout(self.timeout)
            .with_search_options(SearchOptions::new().sizelimit(size_limit))
            .search(base, scope, filter, attributes.to_vec())
            .await;
        let (entries, result) = match result {
            Ok(r) => (r.0, r.1),
            Err(e) => return Err(self.transport_failure("search", Sent::Read, e)),
        };
        let truncated = result.rc == 4;
        if !truncated {
            self.finish("search", Sent::Read, Ok(result))?;
        }
        // ldap3 panics on an entry it cannot decode; a server must not be able to
        // crash the process, and dropping the entry could hide a second match.
        let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            entries
                .into_iter()
                .map(SearchEntry::construct)
                .collect::<Vec<_>>()
        }));
        match decoded {
            Ok(entries) => Ok(Found { entries, truncated }),
            Err(_) => {
                self.broken = true;
                Err(LdapFailure::Transport {
                    server: self.server.to_string(),
                    detail: "search: the server sent an entry that cannot be decoded".into(),
                })
            }
        }
    }

    /// Modify with the given mods and controls (the password policy control is added).
    /// Values may be [`crate::WipedBytes`] (passwords): consumed, and wiped when ldap3
    /// drops them.
    pub async fn modify<S: AsRef<[u8]> + Eq + std::hash::Hash>(
        &mut self,
        dn: &str,
        mods: Vec<Mod<S>>,
        mut controls: Vec<RawControl>,
    ) -> Result<Reply, LdapFailure> {
        controls.push(ppolicy::request_control());
        let result = self
            .ldap
            .with_timeout(self.timeout)
            .with_controls(controls)
            .modify(dn, mods)
            .await;
        self.finish("modify", Sent::Write, result)
    }

    /// The Password Modify extended operation (RFC 3062), with the password policy
    /// control. `user: None` changes the bound identity's own password.
    pub async fn password_modify(
        &mut self,
        user: Option<&str>,
        old: Option<&Password>,
        new: &Password,
    ) -> Result<Reply, LdapFailure> {
        // Encoded here in one exactly sized buffer rather than by ldap3's PasswordModify,
        // which leaves three unwiped copies of each password in freed memory.
        let exop = ldap3::exop::Exop {
            name: Some(crate::ber::PASSWORD_MODIFY_OID.to_string()),
            val: Some(crate::ber::password_modify_value(
                user,
                old.map(Password::expose),
                Some(new.expose()),
            )),
        };
        let result = self
            .ldap
            .with_timeout(self.timeout)
            .with_controls(ppolicy::request_control())
            .extended(exop)
            .await
            .map(|r| r.1);
        self.finish("password modify", Sent::Write, result)
    }

    /// Any extended operation, with the password policy control. Returns the
    /// response value, if the server sent one.
    pub async fn extended(
        &mut self,
        oid: &str,
        value: Option<Vec<u8>>,
    ) -> Result<(Option<Vec<u8>>, Reply), LdapFailure> {
        let exop = ldap3::exop::Exop {
            name: Some(oid.to_string()),
            val: value,
        };
        let result = self
            .ldap
            .with_timeout(self.timeout)
            .with_controls(ppolicy::request_control())
            .extended(exop)
            .await;
        match result {
            Ok(ldap3::result::ExopResult(exop, result)) => {
                let reply = self.finish("extended operation", Sent::Write, Ok(result))?;
                Ok((exop.val, reply))
            }
            // Any extended operation may change something (Password Modify does).
            Err(e) => Err(self.transport_failure("extended operation", Sent::Write, e)),
        }
    }

    /// Ends the session politely (errors ignored: the socket closes anyway).
    pub async fn unbind(mut self) {
        let _ = self.ldap.with_timeout(self.timeout).unbind().await;
    }

    fn finish(
        &mut self,
        what: &'static str,
        sent: Sent,
        result: Result<LdapResult, LdapError>,
    ) -> Result<Reply, LdapFailure> {
        match result {
            Ok(r) => {
                let reply = Reply::from_result(r);
                if reply.is_success() {
                    Ok(reply)
                } else {
                    Err(LdapFailure::Directory {
                        server: self.server.to_string(),
                        reply,
                    })
                }
            }
            Err(e) => Err(self.transport_failure(what, sent, e)),
        }
    }

    fn transport_failure(&mut self, what: &'static str, sent: Sent, e: LdapError) -> LdapFailure {
        let server = self.server.to_string();
        match e {
            LdapError::LdapResult { result } => LdapFailure::Directory {
                server,
                reply: Reply::from_result(result),
            },
            // Found before anything is sent: the connection is still good.
            LdapError::FilterParsing => LdapFailure::Directory {
                server,
                reply: Reply {
                    rc: FILTER_ERROR,
                    text: "the search filter does not parse".into(),
                    matched: String::new(),
                    ppolicy: None,
                    controls: Vec::new(),
                },
            },
            LdapError::Timeout { .. } => {
                // The server may still be working on it; never reuse this connection.
                self.broken = true;
                match sent {
                    Sent::Read => LdapFailure::Timeout {
                        server,
                        what,
                        after: self.timeout,
                    },
                    Sent::Write => LdapFailure::Unanswered {
                        server,
                        what,
                        after: self.timeout,
                    },
                }
            }
            other => {
                self.broken = true;
                LdapFailure::Transport {
                    server,
                    detail: format!("{what}: {other}"),
                }
            }
        }
    }
}
