//! Nothing here: the targets are the integration tests in `tests/it/` (see that module's docs).
