//! The live view's screen as a pure function of what the watcher knows
//! (`Model`: the last report, the rates remembered, the last error): first
//! the rows to show (`rows`), then those rows drawn into a ratatui
//! `Buffer` (`impl Widget for &Model`), so that both are tested without a
//! terminal.
//!
//! Owns the layout and the wording of the screen; it never asks the daemon
//! and never touches the terminal (`screen.rs` does both).

use std::path::PathBuf;

use chrono::{DateTime, Local};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols;
use ratatui::text::{Line, Span};
use ratatui::widgets::{LineGauge, Sparkline, Widget};

use super::history::{History, SAMPLES};
use crate::logging::Escaped;
use crate::status::{FileStatus, JobStatus, StatusError, StatusReport, human_duration};

/// Everything the screen is drawn from.
#[derive(Debug)]
pub struct Model {
    pub socket: PathBuf,
    /// The last report the daemon sent, and when it came.
    pub report: Option<(DateTime<Local>, StatusReport)>,
    pub history: History,
    /// Why the last question went unanswered; `None` once one is answered.
    pub error: Option<String>,
}

impl Model {
    pub fn new(socket: PathBuf) -> Model {
        Model {
            socket,
            report: None,
            history: History::default(),
            error: None,
        }
    }

    /// Takes in the answer to one question (or its failure).
    pub fn update(&mut self, at: DateTime<Local>, answer: Result<StatusReport, StatusError>) {
        match answer {
            Ok(r) => {
                self.history.observe(&r);
                self.report = Some((at, r));
                self.error = None;
            }
            // The last report stays on the screen, marked as old, so that
            // what the daemon was doing when it went away can be read.
            Err(e) => self.error = Some(e.to_string()),
        }
    }
}

/// One line of the screen.
#[derive(Clone, Debug, PartialEq)]
pub enum Row {
    Text(Line<'static>),
    /// `label`, then the sparkline of `data` (oldest first).
    Rate {
        label: String,
        data: Vec<u64>,
    },
    /// `name`, a progress bar at `ratio` (none when the size is unknown),
    /// then `figures`.
    Bar {
        name: String,
        ratio: Option<f64>,
        figures: String,
    },
}

/// Least width of a row's label column (`rows/s` and file names): wider
/// when a name needs it, up to half the screen.
const LABEL: u16 = 28;
/// Width of a progress bar with its percentage.
const BAR: u16 = 34;

fn text(s: impl Into<String>) -> Row {
    Row::Text(Line::raw(s.into()))
}

fn styled(s: impl Into<String>, style: Style) -> Row {
    Row::Text(Line::styled(s.into(), style))
}

fn state_colour(state: &str) -> Color {
    match state {
        "running" | "ready" => Color::Green,
        "starting" | "draining" | "stopping" => Color::Yellow,
        _ => Color::Red,
    }
}

/// The screen's rows, top to bottom.
pub fn rows(m: &Model) -> Vec<Row> {
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let mut out = Vec::new();
    match &m.report {
        Some((at, r)) => out.push(Row::Text(Line::from(vec![
            Span::styled(format!("ingestd pid {}", r.pid), bold),
            Span::raw(format!(
                ", up {}, {} job(s), config {} | {} {} | q quits",
                human_duration(r.uptime_s),
                r.jobs.len(),
                Escaped(r.config.display()),
                if m.error.is_some() {
                    "last answer"
                } else {
                    "updated"
                },
                at.format("%H:%M:%S"),
            )),
        ]))),
        None => out.push(styled(
            format!(
                "ingestd status --watch: {} | q quits",
                Escaped(m.socket.display())
            ),
            bold,
        )),
    }
    if let Some(e) = &m.error {
        out.push(styled(
            format!(
                "daemon not answering: {}; asking again every second",
                Escaped(e)
            ),
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        ));
    } else if m.report.is_none() {
        out.push(text("asking the daemon..."));
    }
    if let Some((_, r)) = &m.report {
        for j in &r.jobs {
            out.push(text(""));
            job_rows(j, &m.history, &mut out);
        }
    }
    out
}

fn job_rows(j: &JobStatus, h: &History, out: &mut Vec<Row>) {
    out.push(Row::Text(Line::from(vec![
        Span::styled(
            format!("job {}", j.name),
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Span::raw(": "),
        Span::styled(
            Escaped(&j.state).to_string(),
            Style::new().fg(state_colour(j.state.split(':').next().unwrap_or_default())),
        ),
        Span::raw(format!(" -> {} table {}", j.sink, Escaped(&j.table))),
    ])));
    out.push(Row::Rate {
        label: format!("  {:.0} rows/s", h.rate(&j.name)),
        data: h.sparkline(&j.name),
    });
    out.push(text(format!(
        "  loaded {}, rejected {}, in flight {}, backlog {} file(s) / {} batch(es)",
        j.loaded, j.rejected, j.in_flight, j.backlog_files, j.backlog_batches
    )));
    if let Some(st) = &j.stream {
        out.push(text(format!("  {}", st.summary())));
    }
    for w in &j.workers {
        let pid = w.pid.map_or("-".to_string(), |p| p.to_string());
        out.push(Row::Text(Line::from(vec![
            Span::raw(format!("  worker {} pid {pid}: ", w.slot)),
            Span::styled(
                Escaped(&w.state).to_string(),
                Style::new().fg(state_colour(&w.state)),
            ),
            Span::raw(format!(
                ", up {}, {} batches, {} in flight",
                human_duration(w.uptime_s),
                w.batches,
                w.in_flight
            )),
        ])));
    }
    for f in &j.files {
        out.push(file_row(f));
    }
}

fn ratio(done: u64, size: Option<u64>) -> Option<f64> {
    match size {
        Some(size) if size > 0 => Some((done as f64 / size as f64).clamp(0.0, 1.0)),
        Some(_) => Some(1.0),
        None => None,
    }
}

fn file_row(f: &FileStatus) -> Row {
    match &f.tail {
        // A followed file's bar is how much of what it holds is committed.
        Some(t) => {
            let size = f.size.unwrap_or(0);
            Row::Bar {
                name: format!("  followed {}", Escaped(&t.path)),
                ratio: ratio(size.saturating_sub(t.lag_bytes), Some(size)),
                figures: format!(
                    "read to {} of {} bytes, {} not loaded (oldest {:.1}s); loaded {}, rejected {}",
                    t.position, size, t.lag_bytes, t.oldest_unloaded_s, f.loaded, f.rejected
                ),
            }
        }
        None => Row::Bar {
            name: format!("  file {}", Escaped(&f.file)),
            ratio: ratio(f.bytes_done, f.size),
            figures: match f.size {
                Some(size) => format!(
                    "{} of {size} bytes; loaded {}, rejected {}",
                    f.bytes_done, f.loaded, f.rejected
                ),
                None => format!(
                    "{} bytes; loaded {}, rejected {}",
                    f.bytes_done, f.loaded, f.rejected
                ),
            },
        },
    }
}

impl Widget for &Model {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let rows = rows(self);
        // One column for every label, so that the bars line up.
        let longest = rows
            .iter()
            .filter_map(|r| match r {
                Row::Bar { name, .. } => Some(Line::raw(name.as_str()).width()),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        let label = u16::try_from(longest)
            .unwrap_or(u16::MAX)
            .min(area.width / 2)
            .max(LABEL);
        let height = usize::from(area.height);
        // Rows that do not fit are counted on the last line rather than
        // cut off without a word.
        let (shown, hidden) = if rows.len() > height && height > 0 {
            (height - 1, rows.len() - (height - 1))
        } else {
            (rows.len(), 0)
        };
        for (i, row) in rows.iter().take(shown).enumerate() {
            let line = Rect {
                y: area.y + i as u16,
                height: 1,
                ..area
            };
            render_row(row, label, line, buf);
        }
        if hidden > 0 {
            let line = Rect {
                y: area.y + shown as u16,
                height: 1,
                ..area
            };
            Line::styled(
                format!("... {hidden} more line(s): enlarge the terminal"),
                Style::new().add_modifier(Modifier::DIM),
            )
            .render(line, buf);
        }
    }
}

fn render_row(row: &Row, label_width: u16, area: Rect, buf: &mut Buffer) {
    match row {
        Row::Text(line) => line.render(area, buf),
        Row::Rate { label, data } => {
            let [l, spark] =
                Layout::horizontal([Constraint::Length(label_width), Constraint::Min(0)])
                    .areas(area);
            Line::raw(label.as_str()).render(l, buf);
            // The newest samples that fit, drawn left to right so that the
            // latest is at the end; scaled to the minute's peak.
            let width = usize::from(spark.width).min(SAMPLES);
            let from = data.len().saturating_sub(width);
            Sparkline::default()
                .data(&data[from..])
                .style(Style::new().fg(Color::Cyan))
                .render(spark, buf);
        }
        Row::Bar {
            name,
            ratio,
            figures,
        } => {
            let [n, bar, fig] = Layout::horizontal([
                Constraint::Length(label_width),
                Constraint::Length(BAR),
                Constraint::Min(0),
            ])
            .spacing(1)
            .areas(area);
            Line::raw(name.as_str()).render(n, buf);
            match ratio {
                // Distinct symbols for done and not done, so that the bar
                // reads without colours too (a captured screen, `TERM=dumb`).
                Some(r) => LineGauge::default()
                    .ratio(*r)
                    .filled_symbol(symbols::block::FULL)
                    .unfilled_symbol(symbols::shade::LIGHT)
                    .filled_style(Style::new().fg(Color::Green))
                    .render(bar, buf),
                None => Line::raw("size unknown").render(bar, buf),
            }
            Line::raw(figures.as_str()).render(fig, buf);
        }
    }
}

#[cfg(test)]
#[path = "tests/view.rs"]
mod tests;
