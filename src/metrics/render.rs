//! The Prometheus text exposition format, version 0.0.4, as a pure
//! function from gathered families to text.
//!
//! Per family a `# HELP` line (backslash and newline escaped) and a
//! `# TYPE` line, then one sample line per label set; a histogram becomes
//! `_bucket` lines with cumulative counts and an `le` label, ending with
//! `le="+Inf"` (equal to `_count`), then `_sum` and `_count`. Label values
//! escape backslash, double quote and newline. Names are the caller's:
//! counters end in `_total`, units are base units (seconds, bytes), as the
//! Prometheus naming conventions ask; the unit tests hold the families of
//! [`super::collect`] to that.

use std::fmt::Write;

/// What kind of metric a family is (the `# TYPE` word).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// A histogram's state: `bounds` ascending, `counts` per bucket (not
/// cumulative) with one more entry for the values above every bound;
/// `sum` in base units.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramValue {
    pub bounds: Vec<f64>,
    pub counts: Vec<u64>,
    pub sum: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Number(f64),
    Histogram(HistogramValue),
}

/// One label set of a family, and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: Vec<(&'static str, String)>,
    pub value: Value,
}

/// One metric name with its help, type and series.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    pub series: Vec<Series>,
}

impl Family {
    pub fn new(name: &'static str, kind: Kind, help: &'static str) -> Family {
        Family {
            name,
            help,
            kind,
            series: Vec::new(),
        }
    }

    /// Adds a series of one number.
    pub fn with(mut self, labels: &[(&'static str, &str)], value: f64) -> Family {
        self.series.push(Series {
            labels: labels.iter().map(|(k, v)| (*k, v.to_string())).collect(),
            value: Value::Number(value),
        });
        self
    }

    /// Adds a histogram series.
    pub fn histogram(mut self, value: HistogramValue) -> Family {
        self.series.push(Series {
            labels: Vec::new(),
            value: Value::Histogram(value),
        });
        self
    }
}

/// The media type of what [`render`] writes.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The exposition text of `families`, in the order given.
pub fn render(families: &[Family]) -> String {
    let mut out = String::with_capacity(families.len() * 256);
    for family in families {
        out.push_str("# HELP ");
        out.push_str(family.name);
        out.push(' ');
        escape(&mut out, family.help, false);
        out.push('\n');
        let _ = writeln!(out, "# TYPE {} {}", family.name, family.kind.word());
        for series in &family.series {
            match &series.value {
                Value::Number(v) => sample(&mut out, family.name, "", &series.labels, None, *v),
                Value::Histogram(h) => histogram(&mut out, family.name, &series.labels, h),
            }
        }
    }
    out
}

fn histogram(out: &mut String, name: &str, labels: &[(&'static str, String)], h: &HistogramValue) {
    let mut cumulative = 0u64;
    for (i, count) in h.counts.iter().enumerate() {
        cumulative += count;
        let le = h.bounds.get(i).copied().unwrap_or(f64::INFINITY);
        sample(out, name, "_bucket", labels, Some(le), cumulative as f64);
    }
    sample(out, name, "_sum", labels, None, h.sum);
    sample(out, name, "_count", labels, None, cumulative as f64);
}

/// `name{labels} value` (`le` last when given).
fn sample(
    out: &mut String,
    name: &str,
    suffix: &str,
    labels: &[(&'static str, String)],
    le: Option<f64>,
    value: f64,
) {
    out.push_str(name);
    out.push_str(suffix);
    if !labels.is_empty() || le.is_some() {
        out.push('{');
        for (i, (key, value)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(key);
            out.push_str("=\"");
            escape(out, value, true);
            out.push('"');
        }
        if let Some(le) = le {
            if !labels.is_empty() {
                out.push(',');
            }
            out.push_str("le=\"");
            number(out, le);
            out.push('"');
        }
        out.push('}');
    }
    out.push(' ');
    number(out, value);
    out.push('\n');
}

/// A float as Prometheus reads it: `+Inf`, `-Inf`, `NaN`, else the
/// shortest decimal that reads back the same (`1`, `0.005`, `1e+21`).
fn number(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v == f64::INFINITY {
        out.push_str("+Inf");
    } else if v == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else {
        let _ = write!(out, "{v}");
    }
}

/// Escapes `\` and newline, and `"` too inside a label value.
fn escape(out: &mut String, text: &str, quote: bool) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_and_gauge_with_help_and_type() {
        let text = render(&[
            Family::new("smolmail_x_total", Kind::Counter, "Things done.")
                .with(&[("service", "smtp")], 3.0)
                .with(&[("service", "imap")], 0.0),
            Family::new("smolmail_queue_length", Kind::Gauge, "Messages.").with(&[], 7.0),
        ]);
        assert_eq!(
            text,
            "# HELP smolmail_x_total Things done.\n\
             # TYPE smolmail_x_total counter\n\
             smolmail_x_total{service=\"smtp\"} 3\n\
             smolmail_x_total{service=\"imap\"} 0\n\
             # HELP smolmail_queue_length Messages.\n\
             # TYPE smolmail_queue_length gauge\n\
             smolmail_queue_length 7\n"
        );
    }

    /// Exposition format: label values escape `\`, `"` and newline; HELP
    /// escapes `\` and newline only.
    #[test]
    fn label_values_and_help_are_escaped() {
        let text = render(&[Family::new("m", Kind::Gauge, "a \\ b\nc \"q\"")
            .with(&[("path", "C:\\x\n\"y\""), ("b", "ok")], 1.5)]);
        assert_eq!(
            text,
            "# HELP m a \\\\ b\\nc \"q\"\n\
             # TYPE m gauge\n\
             m{path=\"C:\\\\x\\n\\\"y\\\"\",b=\"ok\"} 1.5\n"
        );
    }

    /// Buckets are cumulative, end with `+Inf` equal to `_count`, and
    /// `_sum` is the plain sum.
    #[test]
    fn histogram_buckets_cumulative_with_inf_sum_count() {
        let h = HistogramValue {
            bounds: vec![0.005, 0.5, 1.0],
            counts: vec![2, 0, 3, 1],
            sum: 4.25,
        };
        let text = render(&[Family::new("lat_seconds", Kind::Histogram, "L.").histogram(h)]);
        assert_eq!(
            text,
            "# HELP lat_seconds L.\n\
             # TYPE lat_seconds histogram\n\
             lat_seconds_bucket{le=\"0.005\"} 2\n\
             lat_seconds_bucket{le=\"0.5\"} 2\n\
             lat_seconds_bucket{le=\"1\"} 5\n\
             lat_seconds_bucket{le=\"+Inf\"} 6\n\
             lat_seconds_sum 4.25\n\
             lat_seconds_count 6\n"
        );
    }

    #[test]
    fn histogram_le_follows_other_labels() {
        let mut family = Family::new("h", Kind::Histogram, "H.");
        family.series.push(Series {
            labels: vec![("service", "smtp".into())],
            value: Value::Histogram(HistogramValue {
                bounds: vec![1.0],
                counts: vec![0, 0],
                sum: 0.0,
            }),
        });
        let text = render(&[family]);
        assert!(
            text.contains("h_bucket{service=\"smtp\",le=\"1\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("h_bucket{service=\"smtp\",le=\"+Inf\"} 0\n"),
            "{text}"
        );
        assert!(text.contains("h_count{service=\"smtp\"} 0\n"), "{text}");
    }

    #[test]
    fn special_numbers() {
        let mut out = String::new();
        for v in [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e21,
            -0.25,
            1.0e9,
        ] {
            number(&mut out, v);
            out.push(' ');
        }
        assert_eq!(
            out,
            "NaN +Inf -Inf 1000000000000000000000 -0.25 1000000000 "
        );
    }
}
