//! Renders pull progress like Docker's jsonmessage: on a terminal one live line per id, redrawn in
//! place with a 50-cell bar when the terminal is wider than 110 columns; otherwise plain
//! `<id>: <status>` lines, with byte-counting updates dropped (so logs have no counters).

use crate::format::units::human_size;
use engine::progress::{ProgressEvent, ProgressSink};
use std::io::Write;
use std::sync::{Arc, Mutex};

/// Columns of the terminal on standard output (200 when it does not say).
fn terminal_width() -> usize {
    match rustix::termios::tcgetwinsize(std::io::stdout()) {
        Ok(ws) if ws.ws_col > 0 => usize::from(ws.ws_col),
        _ => 200,
    }
}

struct TtyState {
    ids: Vec<String>,
    width: usize,
}

/// The progress line text (`<id>: <status> <bar> <current>/<total>`).
pub fn line_text(ev: &ProgressEvent, width: usize) -> String {
    let mut s = String::new();
    if let Some(id) = &ev.id {
        s.push_str(id);
        s.push_str(": ");
    }
    s.push_str(&ev.status);
    if let Some((current, total)) = ev.detail {
        let mut bar = String::new();
        if let Some(total) = total.filter(|t| *t > 0) {
            let half = (((current as f64 / total as f64) * 100.0) as usize / 2).min(50);
            if width > 110 {
                bar.push('[');
                bar.push_str(&"=".repeat(half));
                bar.push('>');
                bar.push_str(&" ".repeat(50 - half));
                bar.push_str("] ");
            }
            bar.push_str(&format!("{:>8}/{}", human_size(current), human_size(total)));
        } else {
            bar.push_str(&format!("{:>8}", human_size(current)));
        }
        s.push(' ');
        s.push_str(&bar);
    }
    s
}

/// No progress with `-q`, else [`stdout_sink`].
pub fn sink(quiet: bool) -> ProgressSink {
    if quiet {
        engine::progress::discard()
    } else {
        stdout_sink()
    }
}

/// A sink writing to stdout: live lines on a terminal, plain lines otherwise.
pub fn stdout_sink() -> ProgressSink {
    if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        let state = Arc::new(Mutex::new(TtyState {
            ids: Vec::new(),
            width: terminal_width(),
        }));
        Arc::new(move |ev: ProgressEvent| {
            let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
            let mut out = std::io::stdout().lock();
            let text = line_text(&ev, st.width);
            match &ev.id {
                Some(id) => {
                    if let Some(pos) = st.ids.iter().position(|x| x == id) {
                        let up = st.ids.len() - pos;
                        let _ = write!(out, "\x1b[{up}A\x1b[2K\r{text}\r\x1b[{up}B");
                    } else {
                        st.ids.push(id.clone());
                        let _ = writeln!(out, "{text}");
                    }
                }
                None => {
                    // A line without id ends the live block (Digest:, Status:).
                    st.ids.clear();
                    let _ = writeln!(out, "{text}");
                }
            }
            let _ = out.flush();
        })
    } else {
        Arc::new(|ev: ProgressEvent| {
            if ev.detail.is_some_and(|(c, t)| c > 0 || t.unwrap_or(0) > 0) {
                return;
            }
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{}", line_text(&ev, 200));
            let _ = out.flush();
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_like_docker() {
        let ev = ProgressEvent::bytes("e756f3fdd6a3", "Downloading", 3_146_000, Some(29_130_000));
        let wide = line_text(&ev, 200);
        assert_eq!(
            wide,
            "e756f3fdd6a3: Downloading [=====>                                             ]  3.146MB/29.13MB"
        );
        assert_eq!(
            line_text(&ev, 80),
            "e756f3fdd6a3: Downloading  3.146MB/29.13MB"
        );
        assert_eq!(
            line_text(&ProgressEvent::with_id("x", "Pull complete"), 80),
            "x: Pull complete"
        );
    }
}
