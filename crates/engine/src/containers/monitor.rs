//! The detached container's monitor: `strata --root R __container-monitor ID`, spawned by
//! [`super::start::start_detached`] in its own session. It launches the container with its
//! output going to `container.log`, tells the starter how that went in one line on stdout
//! (a [`Report`]), then waits for the container and records its exit. The starter returns
//! after that line, so `run -d` reports the runtime's error and exit code as `run` does.

use super::process::{ignore_hangups, wait_exit};
use super::remove::remove_files;
use super::start::{Output, finish, launch, make_terminal};
use super::{find, internal, now_rfc3339};
use oci_model::Result;
use runtime::log_path;
use std::io::{BufRead, Write};
use std::sync::{Arc, Mutex};
use store::Store;

/// Hidden subcommand that a detached start spawns.
pub const MONITOR_COMMAND: &str = "__container-monitor";

/// The monitor's one line to the starter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Report {
    /// `OK`: the container's process runs.
    Started,
    /// `ERR <exit> <message>`: it could not be started.
    Failed { exit: u8, message: String },
}

impl Report {
    pub(super) fn parse(line: &str) -> Option<Report> {
        if line == "OK" {
            return Some(Report::Started);
        }
        let (exit, message) = line.strip_prefix("ERR ")?.split_once(' ')?;
        Some(Report::Failed {
            exit: exit.parse().ok()?,
            message: message.to_string(),
        })
    }

    fn line(&self) -> String {
        match self {
            Report::Started => "OK".into(),
            Report::Failed { exit, message } => {
                format!("ERR {exit} {}", message.replace('\n', " "))
            }
        }
    }
}

/// Writes `report` for the starter, then points stdout at `/dev/null`: nobody reads after the
/// first line, and later writes must neither fail nor raise SIGPIPE.
fn send(report: &Report) {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{}", report.line());
    let _ = out.flush();
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        let _ = rustix::stdio::dup2_stdout(&null);
    }
}

fn copy_to_log(
    reader: std::io::PipeReader,
    stream: &'static str,
    log: Arc<Mutex<std::fs::File>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut r = std::io::BufReader::new(reader);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match r.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let full = buf.last() == Some(&b'\n');
                    if full {
                        buf.pop();
                    }
                    let line = runtime::logs::encode_line(&now_rfc3339(), stream, full, &buf);
                    let mut f = log.lock().unwrap_or_else(|p| p.into_inner());
                    let _ = f.write_all(&line);
                }
            }
        }
    })
}

/// The body of the monitor for container `id`.
pub fn monitor(store: &Store, id: &str) -> Result<()> {
    let mut c = match find(store, id) {
        Ok(c) => c,
        Err(e) => {
            send(&Report::Failed {
                exit: runtime::error::EXIT_FAILED,
                message: e.message.clone(),
            });
            return Err(e);
        }
    };
    ignore_hangups();
    let _ = make_terminal(store, &c.id, false);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path(store.root(), &c.id))
        .map_err(|e| internal("open container.log", e))?;
    let (pid, pipes) = match launch(store, &mut c, Output::Pipes) {
        Ok(x) => x,
        Err(e) => {
            send(&Report::Failed {
                exit: e.exit,
                message: e.error.message.clone(),
            });
            if c.config.auto_remove {
                let _ = remove_files(store, &c);
            }
            return Err(e.into());
        }
    };
    send(&Report::Started);
    let log = Arc::new(Mutex::new(log));
    let mut threads = Vec::new();
    if let Some(p) = pipes {
        threads.push(copy_to_log(p.stdout, "stdout", log.clone()));
        threads.push(copy_to_log(p.stderr, "stderr", log.clone()));
    }
    let code = wait_exit(pid);
    for t in threads {
        let _ = t.join();
    }
    finish(store, &c.id, code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_round_trip_through_one_line() {
        let failed = Report::Failed {
            exit: 127,
            message: "exec: \"nope\": not found".into(),
        };
        assert_eq!(Report::parse(&failed.line()), Some(failed));
        assert_eq!(
            Report::parse(&Report::Started.line()),
            Some(Report::Started)
        );
        assert_eq!(
            Report::parse("ERR 125 two\nlines".replace('\n', " ").as_str()),
            Some(Report::Failed {
                exit: 125,
                message: "two lines".into()
            })
        );
        assert_eq!(Report::parse(""), None);
    }
}
