//! Aligned plain-text tables and the cell formats the client commands share.
//! The same text goes to a terminal and to a pipe: no colour, no cursor codes.

use crate::size::human_bytes;

/// How a column lines up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// Rows of cells under a header, each column as wide as its widest cell.
#[derive(Clone, Debug)]
pub struct Table {
    columns: Vec<(&'static str, Align)>,
    rows: Vec<Vec<String>>,
}

/// Spaces between columns.
const GAP: &str = "  ";

impl Table {
    pub fn new(columns: &[(&'static str, Align)]) -> Table {
        Table {
            columns: columns.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells are blank, extra cells are dropped.
    pub fn row(&mut self, cells: Vec<String>) {
        let mut cells = cells;
        cells.resize(self.columns.len(), String::new());
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The header and rows, one line each, ending in a newline; no trailing spaces.
    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.columns.iter().map(|(h, _)| width(h)).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(width(cell));
            }
        }
        let mut out = String::new();
        let header: Vec<String> = self.columns.iter().map(|(h, _)| h.to_string()).collect();
        for cells in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (i, cell) in cells.iter().enumerate() {
                if i > 0 {
                    line.push_str(GAP);
                }
                let pad = widths[i].saturating_sub(width(cell));
                match self.columns[i].1 {
                    Align::Left => {
                        line.push_str(cell);
                        line.push_str(&" ".repeat(pad));
                    }
                    Align::Right => {
                        line.push_str(&" ".repeat(pad));
                        line.push_str(cell);
                    }
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// Characters, not bytes: a name in any script lines up as well as a terminal allows.
fn width(s: &str) -> usize {
    s.chars().count()
}

/// At most `max` characters, the cut marked with `…`.
pub fn truncate(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// `0.5` → `50.0%`.
pub fn percent(fraction: f64) -> String {
    format!("{:.1}%", (fraction * 100.0).clamp(0.0, 100.0))
}

/// `1500000` → `1.5 MB/s`; nothing moving → `-`.
pub fn rate(bytes_per_sec: u64) -> String {
    if bytes_per_sec == 0 {
        "-".to_string()
    } else {
        format!("{}/s", human_bytes(bytes_per_sec))
    }
}

/// A limit in bytes/s, or `unlimited`.
pub fn limit(bytes_per_sec: Option<u64>) -> String {
    match bytes_per_sec {
        Some(n) => format!("{}/s", human_bytes(n)),
        None => "unlimited".to_string(),
    }
}

/// Seconds as `45s`, `3m05s`, `2h07m`, `3d04h`; none → `-`.
pub fn duration(secs: Option<u64>) -> String {
    let Some(s) = secs else {
        return "-".to_string();
    };
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// Piece sizes as they are chosen: `256 KiB`, `4 MiB` (bytes when not a multiple of 1 KiB).
pub fn binary_size(n: u64) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} B")
    }
}

/// `1.23456` → `1.23`.
pub fn ratio(r: f64) -> String {
    format!("{r:.2}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_and_lines_have_no_trailing_spaces() {
        let mut t = Table::new(&[("ID", Align::Right), ("NAME", Align::Left), ("SIZE", Align::Right)]);
        t.row(vec!["1".into(), "alpha".into(), "1.0 MB".into()]);
        t.row(vec!["12".into(), "β".into(), "10 B".into()]);
        t.row(vec!["3".into()]);
        assert_eq!(
            t.render(),
            "ID  NAME     SIZE\n 1  alpha  1.0 MB\n12  β        10 B\n 3\n"
        );
    }

    #[test]
    fn cell_formats() {
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
        assert_eq!(percent(0.5), "50.0%");
        assert_eq!(percent(1.2), "100.0%");
        assert_eq!(rate(0), "-");
        assert_eq!(rate(1_500_000), "1.5 MB/s");
        assert_eq!(limit(None), "unlimited");
        assert_eq!(duration(Some(45)), "45s");
        assert_eq!(duration(Some(185)), "3m05s");
        assert_eq!(duration(Some(7620)), "2h07m");
        assert_eq!(duration(Some(273_600)), "3d04h");
        assert_eq!(duration(None), "-");
        assert_eq!(ratio(1.23456), "1.23");
        assert_eq!(binary_size(262_144), "256 KiB");
        assert_eq!(binary_size(4 << 20), "4 MiB");
        assert_eq!(binary_size(1000), "1000 B");
    }
}
