//! The error of starting or running a container's process, with the exit code Docker gives
//! `run`, `start` and `exec` for it.
//!
//! The runtime reports why a process could not start only as text (runc's JSON log); Docker
//! maps that text to 127 (command not found), 126 (cannot be executed) or 125 once, where the
//! failure is read. The code is carried from there as a field, so that nothing downstream has
//! to recognise strata's own messages again.

use oci_model::{Error, ErrorKind};

/// Docker's exit code for a failure that is not the container's command: the runtime, the
/// store, an invalid option.
pub const EXIT_FAILED: u8 = 125;

/// The prefix of every error the runtime reports about starting a container's process
/// (Docker's text, which scripts match).
const TASK_PREFIX: &str =
    "failed to create task for container: failed to create shim task: OCI runtime create failed: ";

/// An error with the exit code `strata run`/`start`/`exec` ends with because of it.
#[derive(Debug, Clone)]
pub struct RuntimeError {
    pub error: Error,
    /// 127, 126 or 125 ([`EXIT_FAILED`]).
    pub exit: u8,
}

impl RuntimeError {
    /// The runtime failed to create or start the process, saying `message`.
    pub fn task(message: &str) -> RuntimeError {
        RuntimeError {
            error: Error::new(
                ErrorKind::Internal,
                format!("{TASK_PREFIX}{message}: unknown"),
            ),
            exit: exit_code_for(message),
        }
    }
}

/// Docker's mapping of the runtime's reason to an exit code.
fn exit_code_for(message: &str) -> u8 {
    let m = message.to_ascii_lowercase();
    if m.contains("executable file not found") || m.contains("no such file or directory") {
        127
    } else if m.contains("permission denied") || m.contains("exec format error") {
        126
    } else {
        EXIT_FAILED
    }
}

impl From<Error> for RuntimeError {
    fn from(error: Error) -> RuntimeError {
        RuntimeError {
            error,
            exit: EXIT_FAILED,
        }
    }
}

impl From<RuntimeError> for Error {
    fn from(e: RuntimeError) -> Error {
        e.error
    }
}

impl std::fmt::Display for RuntimeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.error.message)
    }
}

impl std::error::Error for RuntimeError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_map_to_docker_exit_codes() {
        let e = RuntimeError::task(
            "runc create failed: unable to start container process: exec: \"nope\": executable file not found in $PATH",
        );
        assert_eq!(e.exit, 127);
        assert_eq!(
            e.error.message,
            "failed to create task for container: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: \"nope\": executable file not found in $PATH: unknown"
        );
        let other = RuntimeError::from(Error::invalid("no such file or directory"));
        assert_eq!(other.exit, 125);
        assert_eq!(
            RuntimeError::task("exec: \"/etc/passwd\": permission denied").exit,
            126
        );
        assert_eq!(
            RuntimeError::task("exec: \"/x\": stat /x: no such file or directory").exit,
            127
        );
        assert_eq!(RuntimeError::task("cgroup trouble").exit, 125);
    }
}
