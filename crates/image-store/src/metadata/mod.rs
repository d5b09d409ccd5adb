//! SQLite metadata shared by concurrent strata processes.
