//! Layers: the tar applier that unpacks a layer stream into a directory ([`unpack`]), layer
//! snapshots by ChainID and the union views over them ([`snapshot`]), and the way back — a
//! directory or a container's changes as a layer tar ([`archive`], [`changes`]); and where a tar
//! stream ends ([`tar_end`]).

pub mod archive;
pub mod changes;
pub mod snapshot;
pub mod tar_end;
pub mod unpack;
