//! The writeback runtime integrators embed: config loading, connector registry, pipeline, audit log.
