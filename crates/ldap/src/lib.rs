//! LDAP plumbing shared by the directory targets: TLS connections, a pool, RFC 4515/4514 escaping, filter templates.
