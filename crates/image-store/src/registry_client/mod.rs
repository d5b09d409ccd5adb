//! Registry client: OCI distribution / Docker Registry v2.
