//! Content store: blobs by digest, ingests, atomic commit.
