//! LDAP plumbing shared by the directory targets (OpenLDAP, Active Directory/Samba).
//!
//! * [`ServerConfig`] is the server part of every LDAP connector's table (url, TLS,
//!   service account, pool, timeouts) with its checks; [`ServerRules`] carries what
//!   differs per connector (the plaintext rule, defaults). [`ServerConfig::open`] makes
//!   the pool at startup.
//! * [`Connector`] opens connections: LDAPS or StartTLS verified against a CA file or
//!   the system trust store (rustls with ring), plain `ldap://` only with explicit
//!   consent, `TCP_NODELAY`, connect and operation timeouts. [`check_options`]
//!   validates without I/O.
//! * [`RootDse`] reads what a server says about itself (controls, naming contexts).
//! * [`Session`] wraps one connection with the operations targets need (bind, search,
//!   modify, Password Modify), each returning a [`Reply`] or an [`LdapFailure`].
//! * [`Pool`] keeps a few connections bound as the service account.
//! * [`ds389`] reads which 389 Directory Server password policy applies to an entry,
//!   and the bound account's effective rights; [`gentime`] reads and writes
//!   GeneralizedTime.
//! * [`escape`] has RFC 4515 filter and RFC 4514 DN value escaping; [`FilterTemplate`]
//!   fills `(uid={username})`-style templates from a cloud identity, escaped.
//! * [`ppolicy`] reads the password policy response control and maps refused password
//!   writes to outcome codes; [`LdapFailure::to_outcome`] and [`result_outcome`] map
//!   everything else (unreachable → `directory_unavailable` naming the server).
//!
//! `ldap3` is re-exported so every target uses the same version.

pub mod account;
pub mod ber;
pub mod clock;
pub mod connect;
pub mod dn;
pub mod ds389;
pub mod error;
pub mod escape;
pub mod gentime;
pub mod health;
pub mod pool;
pub mod ppolicy;
pub mod rootdse;
pub mod server;
pub mod session;
pub mod template;
pub mod tls;
pub mod wiped;

pub use connect::{check_options, ConnectOptions, Connector, OptionError, Security, Trust};
pub use dn::DnError;
pub use error::{result_code_name, result_outcome, LdapFailure, Reply};
pub use pool::{Pool, Pooled};
pub use ppolicy::{password_outcome, PpolicyError, PpolicyResponse, PpolicyWarning};
pub use rootdse::RootDse;
pub use server::{OpenServer, Plaintext, ServerConfig, ServerRules};
pub use session::{Found, Session};
pub use template::{FilterTemplate, MissingAttribute, TemplateError};
pub use wiped::WipedBytes;

pub use ldap3;
