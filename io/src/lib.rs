//! glommio adapters for ccbt.
