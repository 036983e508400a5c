//! A small pool of connections bound as the service account. At most `size`
//! connections exist; a broken one is dropped instead of returned; a caller waits
//! at most the operation timeout for a free one. Connecting happens on demand, so an
//! unreachable server fails each request fast instead of hanging a background task.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};

use tokio::sync::{Semaphore, SemaphorePermit};
use writeback_core::Password;

use crate::connect::Connector;
use crate::error::LdapFailure;
use crate::session::Session;

/// Bound service-account connections to one directory.
pub struct Pool {
    connector: Arc<Connector>,
    bind_dn: String,
    password: Password,
    idle: Mutex<Vec<Session>>,
    permits: Semaphore,
    size: usize,
}

impl Pool {
    /// The largest pool accepted: more connections than this do not make slapd or AD
    /// faster and only hold server resources.
    pub const MAX_SIZE: usize = 64;

    /// A pool of up to `size` (1..=64) connections bound as `bind_dn`.
    pub fn new(
        connector: Arc<Connector>,
        bind_dn: impl Into<String>,
        password: Password,
        size: usize,
    ) -> Self {
        let size = size.clamp(1, Self::MAX_SIZE);
        Pool {
            connector,
            bind_dn: bind_dn.into(),
            password,
            idle: Mutex::new(Vec::with_capacity(size)),
            permits: Semaphore::new(size),
            size,
        }
    }

    pub fn connector(&self) -> &Connector {
        &self.connector
    }

    pub fn bind_dn(&self) -> &str {
        &self.bind_dn
    }

    pub fn size(&self) -> usize {
        self.size
    }

    /// The self-test steps every LDAP connector starts with (connect, tls, bind as the
    /// pool's service account, read `base_dn`), on a fresh connection; the bound
    /// session when the bind passed. See [`crate::health::connection_checks`].
    pub async fn connection_checks(
        &self,
        base_dn: &str,
        checks: &mut Vec<writeback_core::HealthCheck>,
    ) -> Option<crate::session::Session> {
        crate::health::connection_checks(
            &self.connector,
            &self.bind_dn,
            &self.password,
            base_dn,
            checks,
        )
        .await
    }

    /// Connections open and idle right now.
    pub fn idle_count(&self) -> usize {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// A bound connection: an idle one if it still looks alive, otherwise a new one.
    /// Returned to the pool when dropped, unless it broke.
    pub async fn get(&self) -> Result<Pooled<'_>, LdapFailure> {
        let wait = self.connector.operation_timeout();
        let permit = tokio::time::timeout(wait, self.permits.acquire())
            .await
            .map_err(|_| LdapFailure::Timeout {
                server: self.connector.server().to_string(),
                what: "a free pooled connection (all busy)",
                after: wait,
            })?
            .map_err(|_| LdapFailure::Transport {
                server: self.connector.server().to_string(),
                detail: "the pool is closed".into(),
            })?;
        while let Some(mut session) = self.pop_idle() {
            if !session.is_broken() {
                return Ok(Pooled {
                    session: Some(session),
                    pool: self,
                    _permit: permit,
                });
            }
        }
        let session = self
            .connector
            .connect_as(&self.bind_dn, &self.password)
            .await?;
        Ok(Pooled {
            session: Some(session),
            pool: self,
            _permit: permit,
        })
    }

    /// Drops every idle connection (after the directory restarted, say).
    pub fn clear(&self) {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    fn pop_idle(&self) -> Option<Session> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop()
    }

    fn put_back(&self, session: Session) {
        self.idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(session);
    }
}

/// A connection borrowed from a [`Pool`]; dereferences to [`Session`].
pub struct Pooled<'a> {
    session: Option<Session>,
    pool: &'a Pool,
    _permit: SemaphorePermit<'a>,
}

impl Pooled<'_> {
    /// Throws the connection away instead of returning it to the pool (after using
    /// [`Session::ldap`] directly and seeing it fail, or after binding as someone else).
    pub fn discard(mut self) {
        self.session = None;
    }
}

impl Deref for Pooled<'_> {
    type Target = Session;
    fn deref(&self) -> &Session {
        match &self.session {
            Some(s) => s,
            None => unreachable!("a Pooled holds its session until dropped"),
        }
    }
}

impl DerefMut for Pooled<'_> {
    fn deref_mut(&mut self) -> &mut Session {
        match &mut self.session {
            Some(s) => s,
            None => unreachable!("a Pooled holds its session until dropped"),
        }
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if let Some(mut session) = self.session.take() {
            if !session.is_broken() {
                self.pool.put_back(session);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::ConnectOptions;
    use std::time::{Duration, Instant};

    #[tokio::test]
    async fn unreachable_server_fails_fast_and_keeps_nothing() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let mut o = ConnectOptions::new(format!("ldap://127.0.0.1:{port}"));
        o.allow_plaintext = true;
        let pool = Pool::new(
            Arc::new(Connector::new(&o).unwrap()),
            "cn=x",
            Password::new("x"),
            2,
        );
        for _ in 0..5 {
            let started = Instant::now();
            let err = pool.get().await.err().unwrap();
            assert!(started.elapsed() < Duration::from_secs(1));
            assert_eq!(
                err.to_outcome().code,
                writeback_core::OutcomeCode::DirectoryUnavailable
            );
        }
        assert_eq!(pool.idle_count(), 0);
    }
}
