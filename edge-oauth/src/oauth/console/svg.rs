//! Charts as server-rendered SVG: stacked bars per day, one color per series, a legend and
//! a scale. No script, no external asset; every label is escaped.

use std::fmt::Write as _;

use crate::oauth::html::escape;

/// Series colors, in order; series past the last share it.
const COLORS: [&str; 8] = [
    "#3b6fd8", "#e07b39", "#3aa675", "#c94f7c", "#8a6fd1", "#b5a33a", "#3fa3b8", "#888888",
];

const WIDTH: u32 = 760;
const HEIGHT: u32 = 220;
const LEFT: u32 = 70;
const BOTTOM: u32 = 40;
const TOP: u32 = 12;

/// A round number of bytes or counts for the scale.
pub fn human(n: u64, bytes: bool) -> String {
    let units: &[&str] = if bytes {
        &["B", "KB", "MB", "GB", "TB"]
    } else {
        &["", "k", "M", "G", "T"]
    };
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1000.0 && i + 1 < units.len() {
        v /= 1000.0;
        i += 1;
    }
    let unit = units.get(i).copied().unwrap_or("");
    if i == 0 {
        format!("{n}{}{unit}", if bytes { " " } else { "" })
    } else {
        format!("{v:.1} {unit}")
    }
}

/// A stacked bar chart: `days` on the x axis, `series` (name, one value per day) stacked.
/// `id` names the element; `total` goes in `data-total` so a reader (or a test) sees the sum.
pub fn stacked_bars(
    id: &str,
    title: &str,
    days: &[String],
    series: &[(String, Vec<u64>)],
    bytes: bool,
) -> String {
    let per_day: Vec<u64> = (0..days.len())
        .map(|d| {
            series
                .iter()
                .map(|(_, v)| v.get(d).copied().unwrap_or(0))
                .sum()
        })
        .collect();
    let total: u64 = per_day.iter().sum();
    let max = per_day.iter().copied().max().unwrap_or(0).max(1);
    let plot_w = WIDTH - LEFT - 10;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let n = u32::try_from(days.len()).unwrap_or(1).max(1);
    let slot = plot_w / n;
    let bar = (slot * 7 / 10).max(1);
    let mut out = String::new();
    let legend_h = 18 * u32::try_from(series.len().min(COLORS.len())).unwrap_or(0);
    let _ = write!(
        out,
        "<svg id=\"{}\" data-total=\"{total}\" width=\"{WIDTH}\" height=\"{}\" viewBox=\"0 0 {WIDTH} {}\" role=\"img\" aria-label=\"{}\" xmlns=\"http://www.w3.org/2000/svg\" font-family=\"sans-serif\" font-size=\"11\">\
<title>{}</title>",
        escape(id),
        HEIGHT + legend_h,
        HEIGHT + legend_h,
        escape(title),
        escape(title)
    );
    // Scale: 0, half, max.
    for (frac, label) in [(0u64, 0u64), (1, max / 2), (2, max)] {
        // A middle line only where it has a value of its own (not for a scale of 1).
        if frac == 1 && (label == 0 || label * 2 != max && !bytes && max < 10) {
            continue;
        }
        let y = TOP + plot_h - u32::try_from(frac).unwrap_or(0) * plot_h / 2;
        let _ = write!(
            out,
            "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\" stroke=\"#ddd\"/><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            WIDTH - 10,
            LEFT - 4,
            y + 4,
            escape(&human(label, bytes))
        );
    }
    for (d, day) in days.iter().enumerate() {
        let x = LEFT + u32::try_from(d).unwrap_or(0) * slot + (slot - bar) / 2;
        let mut y = TOP + plot_h;
        for (i, (name, values)) in series.iter().enumerate() {
            let v = values.get(d).copied().unwrap_or(0);
            if v == 0 {
                continue;
            }
            let h = u32::try_from(u128::from(v) * u128::from(plot_h) / u128::from(max))
                .unwrap_or(plot_h)
                .max(1);
            y = y.saturating_sub(h);
            let color = COLORS.get(i).or(COLORS.last()).copied().unwrap_or("#888");
            let _ = write!(
                out,
                "<rect x=\"{x}\" y=\"{y}\" width=\"{bar}\" height=\"{h}\" fill=\"{color}\"><title>{} {}: {}</title></rect>",
                escape(day),
                escape(name),
                escape(&human(v, bytes))
            );
        }
        // A label under every bar when there are few, every seventh otherwise.
        if days.len() <= 16 || d % 7 == 0 {
            let _ = write!(
                out,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                x + bar / 2,
                TOP + plot_h + 14,
                escape(day.get(5..).unwrap_or(day))
            );
        }
    }
    for (i, (name, values)) in series.iter().take(COLORS.len()).enumerate() {
        let y = HEIGHT + u32::try_from(i).unwrap_or(0) * 18 - 10;
        let color = COLORS.get(i).copied().unwrap_or("#888");
        let sum: u64 = values.iter().sum();
        let _ = write!(
            out,
            "<rect x=\"{LEFT}\" y=\"{y}\" width=\"12\" height=\"12\" fill=\"{color}\"/><text x=\"{}\" y=\"{}\">{} ({})</text>",
            LEFT + 18,
            y + 10,
            escape(name),
            escape(&human(sum, bytes))
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_stack_escape_and_carry_the_total() {
        let days = vec!["2026-12-01".to_string(), "2026-12-02".to_string()];
        let series = vec![
            ("<app>".to_string(), vec![1000, 0]),
            ("b".to_string(), vec![500, 2500]),
        ];
        let svg = stacked_bars("bytes", "Bytes", &days, &series, true);
        assert!(svg.contains("data-total=\"4000\""));
        assert!(svg.contains("&lt;app&gt;") && !svg.contains("<app>"));
        assert_eq!(
            svg.matches("<rect").count(),
            3 + 2,
            "three bars and two legend keys"
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        // An empty chart draws a scale and no bars.
        let empty = stacked_bars("x", "X", &days, &[], false);
        assert!(empty.contains("data-total=\"0\"") && !empty.contains("<rect"));
        assert_eq!(human(999, true), "999 B");
        assert_eq!(human(1_500_000, true), "1.5 MB");
        assert_eq!(human(2_000, false), "2.0 k");
    }
}
