//! Progress of an import or export: a line on the terminal that counts
//! messages and bytes, with the rate and the time left, redrawn a few
//! times a second (only when stderr is a terminal, so logs and scripts get
//! no control characters), and the figures for the summary line at the end.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Time between two redraws of the line.
const REDRAW: Duration = Duration::from_millis(250);

pub struct Progress {
    verb: &'static str,
    tty: bool,
    start: Instant,
    drawn: Option<Instant>,
    messages: u64,
    bytes: u64,
    total_messages: u64,
    total_bytes: u64,
}

impl Progress {
    /// `verb` begins the line: "importing", "exporting".
    pub fn new(verb: &'static str) -> Progress {
        Progress {
            verb,
            tty: std::io::stderr().is_terminal(),
            start: Instant::now(),
            drawn: None,
            messages: 0,
            bytes: 0,
            total_messages: 0,
            total_bytes: 0,
        }
    }

    /// Adds to what is expected in all (a source told what it holds), for
    /// the time left; a source that cannot tell adds nothing.
    pub fn expect(&mut self, messages: u64, bytes: u64) {
        self.total_messages += messages;
        self.total_bytes += bytes;
    }

    /// One more message handled (stored, skipped or failed).
    pub fn add(&mut self, bytes: u64) {
        self.messages += 1;
        self.bytes += bytes;
        if self.tty && self.drawn.is_none_or(|at| at.elapsed() >= REDRAW) {
            self.draw();
        }
    }

    pub fn messages(&self) -> u64 {
        self.messages
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    fn draw(&mut self) {
        self.drawn = Some(Instant::now());
        let secs = self.start.elapsed().as_secs_f64().max(0.001);
        let mut line = format!("\r{} {}", self.verb, self.messages);
        if self.total_messages > 0 {
            line.push_str(&format!("/{}", self.total_messages));
        }
        line.push_str(&format!(
            " messages, {}",
            crate::admin::show_size(self.bytes)
        ));
        if self.total_bytes > 0 {
            line.push_str(&format!("/{}", crate::admin::show_size(self.total_bytes)));
        }
        line.push_str(&format!(
            ", {:.0} msg/s, {:.1} MB/s",
            self.messages as f64 / secs,
            self.bytes as f64 / secs / 1e6
        ));
        // Time left by bytes when known (sizes vary more than counts).
        let left = if self.total_bytes > self.bytes && self.bytes > 0 {
            Some((self.total_bytes - self.bytes) as f64 * secs / self.bytes as f64)
        } else if self.total_messages > self.messages && self.messages > 0 {
            Some((self.total_messages - self.messages) as f64 * secs / self.messages as f64)
        } else {
            None
        };
        if let Some(left) = left {
            let left = left as u64;
            line.push_str(&format!(", {}:{:02} left", left / 60, left % 60));
        }
        line.push_str("\x1b[K");
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(line.as_bytes());
        let _ = err.flush();
    }

    /// Clears the line; returns "in 12.3 s (456 msg/s, 7.8 MB/s)" for the
    /// summary.
    pub fn finish(&mut self) -> String {
        if self.tty && self.drawn.is_some() {
            let _ = std::io::stderr().write_all(b"\r\x1b[K");
        }
        let secs = self.start.elapsed().as_secs_f64();
        let per = secs.max(0.001);
        format!(
            "in {secs:.1} s ({:.0} msg/s, {:.1} MB/s)",
            self.messages as f64 / per,
            self.bytes as f64 / per / 1e6
        )
    }
}
