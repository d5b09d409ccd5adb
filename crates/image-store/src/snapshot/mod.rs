//! Layer snapshots by ChainID and union views.
