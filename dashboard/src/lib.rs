//! bitonic, the live terminal dashboard of a ccbt daemon, will live here.
//!
//! It needs the daemon's control API, which does not exist yet, so this crate has
//! no binary: nothing here pretends to work before it does.
