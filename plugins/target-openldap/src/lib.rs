//! Directory target: OpenLDAP with the ppolicy overlay.
