//! The picture of an experiment (`synack sim --svg`): two panels over one virtual-time axis,
//! above the sequence plot (bytes acknowledged, solid, and bytes sent, dashed, per sending
//! side), below each sender's congestion window. One colour per connection, a legend, labelled
//! axes with round ticks. Self-contained SVG: no scripts, no external fonts or styles.
//!
//! A run has tens of thousands of samples per connection; each line is thinned to what can be
//! seen, keeping per pixel column the first, lowest, highest and last value, so a cwnd drop
//! or a go-back-N after a timeout still shows however short it was.

use crate::experiment::{Sample, Series};
use crate::svg::esc;
use std::fmt::Write as _;

const W: f64 = 960.0;
const H: f64 = 640.0;
const LEFT: f64 = 84.0;
const PLOT_RIGHT: f64 = 730.0;
const TOP1: f64 = 56.0;
const BOTTOM1: f64 = 316.0;
const TOP2: f64 = 366.0;
const BOTTOM2: f64 = 576.0;
/// Legend entries drawn; more connections are summed up in one line.
const LEGEND_MAX: usize = 14;
/// Sending sides drawn at most: beyond this the lines are a blur and the file grows by the
/// megabyte; the legend says how many were left out.
const DRAW_MAX: usize = 64;

/// Ten colours that stay apart from each other (the "tab10" palette).
const COLOURS: [&str; 10] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

const FONT: &str = "system-ui, -apple-system, 'Segoe UI', 'Noto Sans', 'DejaVu Sans', sans-serif";

/// Round tick values covering `0..=max`: steps of 1, 2 or 5 times a power of ten, about
/// `want` of them.
pub fn ticks(max: f64, want: usize) -> Vec<f64> {
    if max <= 0.0 || !max.is_finite() {
        return vec![0.0];
    }
    let raw = max / want.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let n = (max / step).floor() as usize;
    (0..=n).map(|i| i as f64 * step).collect()
}

/// A byte count with a unit fitted to `scale` (the axis maximum): `1.5 MB`, `640 kB`.
fn bytes_unit(scale: f64) -> (f64, &'static str) {
    if scale >= 1e9 {
        (1e9, "GB")
    } else if scale >= 1e6 {
        (1e6, "MB")
    } else if scale >= 1e3 {
        (1e3, "kB")
    } else {
        (1.0, "bytes")
    }
}

fn num(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// Keep, per pixel column, the first, lowest, highest and last point (in time order).
fn thin(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    let mut i = 0;
    while i < points.len() {
        let col = points[i].0.round();
        let mut j = i;
        let (mut lo, mut hi) = (i, i);
        while j < points.len() && points[j].0.round() == col {
            if points[j].1 < points[lo].1 {
                lo = j;
            }
            if points[j].1 > points[hi].1 {
                hi = j;
            }
            j += 1;
        }
        let mut keep = vec![i, lo, hi, j - 1];
        keep.sort_unstable();
        keep.dedup();
        for k in keep {
            if out.last() != Some(&points[k]) {
                out.push(points[k]);
            }
        }
        i = j;
    }
    out
}

/// Hold each value until the next sample: a window or a counter changes in steps.
fn steps(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(points.len() * 2);
    for (k, p) in points.iter().enumerate() {
        if k > 0 {
            out.push((p.0, points[k - 1].1));
        }
        out.push(*p);
    }
    out
}

fn path(points: &[(f64, f64)]) -> String {
    let mut d = String::with_capacity(points.len() * 14);
    for (k, (x, y)) in points.iter().enumerate() {
        let _ = write!(d, "{}{x:.1},{y:.1}", if k == 0 { "M" } else { " L" });
    }
    d
}

/// The SVG picture of these series (the first `DRAW_MAX` of them); `title` goes on top.
pub fn render(all: &[Series], title: &str) -> String {
    let series = &all[..all.len().min(DRAW_MAX)];
    let t_end = series
        .iter()
        .filter_map(|s| s.samples.last())
        .map(|s| s.t.as_micros())
        .max()
        .unwrap_or(0)
        .max(1) as f64
        / 1e6;
    let max_bytes = series
        .iter()
        .flat_map(|s| &s.samples)
        .map(|s| s.acked.max(s.sent))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let max_cwnd = series
        .iter()
        .flat_map(|s| &s.samples)
        .map(|s| s.cwnd)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let tx = ticks(t_end, 8);
    let ty1 = ticks(max_bytes, 5);
    let ty2 = ticks(max_cwnd, 4);
    // Axes reach the next tick above the data, so the data never touches the frame.
    let next = |t: &[f64], max: f64| {
        let step = if t.len() > 1 { t[1] - t[0] } else { max };
        let last = *t.last().unwrap_or(&0.0);
        if last >= max {
            last
        } else {
            last + step
        }
    };
    let (x_max, y1_max, y2_max) = (
        next(&tx, t_end),
        next(&ty1, max_bytes),
        next(&ty2, max_cwnd),
    );
    let tx = ticks(x_max, 8);
    let x = |secs: f64| LEFT + (PLOT_RIGHT - LEFT) * secs / x_max;
    let y1 = |b: f64| BOTTOM1 - (BOTTOM1 - TOP1) * b / y1_max;
    let y2 = |c: f64| BOTTOM2 - (BOTTOM2 - TOP2) * c / y2_max;

    let mut o = String::new();
    let _ = write!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="{FONT}" font-size="12" role="img">"#
    );
    let _ = write!(o, "<title>{}</title>", esc(title));
    let _ = write!(
        o,
        r##"<rect width="{W}" height="{H}" fill="#ffffff"/><text x="{LEFT}" y="28" font-size="15" font-weight="bold" fill="#222">{}</text>"##,
        esc(title)
    );

    // Frames, grid lines and ticks.
    let (u1, unit1) = bytes_unit(y1_max);
    let (u2, unit2) = bytes_unit(y2_max);
    for (top, bottom, ty, y, u, class) in [
        (
            TOP1,
            BOTTOM1,
            &ty1,
            &y1 as &dyn Fn(f64) -> f64,
            u1,
            "sequence",
        ),
        (TOP2, BOTTOM2, &ty2, &y2 as &dyn Fn(f64) -> f64, u2, "cwnd"),
    ] {
        let _ = write!(o, r#"<g class="axes {class}">"#);
        for v in ty.iter() {
            let yy = y(*v);
            let _ = write!(
                o,
                r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{PLOT_RIGHT}" y2="{yy:.1}" stroke="#e6e6e6"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#444">{}</text>"##,
                LEFT - 6.0,
                yy + 4.0,
                num(v / u)
            );
        }
        for v in &tx {
            let xx = x(*v);
            let _ = write!(
                o,
                r##"<line x1="{xx:.1}" y1="{top}" x2="{xx:.1}" y2="{bottom}" stroke="#f0f0f0"/><line x1="{xx:.1}" y1="{bottom}" x2="{xx:.1}" y2="{:.1}" stroke="#444"/><text x="{xx:.1}" y="{:.1}" text-anchor="middle" fill="#444">{}</text>"##,
                bottom + 4.0,
                bottom + 17.0,
                num(*v)
            );
        }
        let _ = write!(
            o,
            r##"<rect x="{LEFT}" y="{top}" width="{:.1}" height="{:.1}" fill="none" stroke="#444"/></g>"##,
            PLOT_RIGHT - LEFT,
            bottom - top
        );
    }
    let label_y = |top: f64, bottom: f64, text: &str| {
        let cy = (top + bottom) / 2.0;
        format!(
            r##"<text class="axis-label" x="22" y="{cy:.1}" transform="rotate(-90 22 {cy:.1})" text-anchor="middle" fill="#222">{}</text>"##,
            esc(text)
        )
    };
    o.push_str(&label_y(
        TOP1,
        BOTTOM1,
        &format!("bytes acknowledged / sent ({unit1})"),
    ));
    o.push_str(&label_y(
        TOP2,
        BOTTOM2,
        &format!("congestion window ({unit2})"),
    ));
    let _ = write!(
        o,
        r##"<text class="axis-label" x="{:.1}" y="{:.1}" text-anchor="middle" fill="#222">virtual time (s)</text>"##,
        (LEFT + PLOT_RIGHT) / 2.0,
        BOTTOM2 + 40.0
    );

    // The lines, one group per sending side.
    for (k, s) in series.iter().enumerate() {
        let colour = COLOURS[s.conn % COLOURS.len()];
        let secs = |p: &Sample| p.t.as_micros() as f64 / 1e6;
        let acked: Vec<(f64, f64)> = s
            .samples
            .iter()
            .map(|p| (x(secs(p)), y1(p.acked as f64)))
            .collect();
        let sent: Vec<(f64, f64)> = s
            .samples
            .iter()
            .map(|p| (x(secs(p)), y1(p.sent as f64)))
            .collect();
        let cwnd: Vec<(f64, f64)> = s
            .samples
            .iter()
            .map(|p| (x(secs(p)), y2(p.cwnd as f64)))
            .collect();
        // A second direction of the same connection is drawn fainter.
        let opacity = if k > 0 && series[k - 1].conn == s.conn {
            0.55
        } else {
            1.0
        };
        let _ = write!(
            o,
            r#"<g class="series" data-conn="{}" data-dir="{}" stroke="{colour}" fill="none" stroke-opacity="{opacity}"><title>{}</title>"#,
            s.conn + 1,
            s.dir.as_str(),
            esc(&s.label())
        );
        let _ = write!(
            o,
            r#"<path class="sent" d="{}" stroke-width="1" stroke-dasharray="4 3"/>"#,
            path(&thin(&steps(&sent)))
        );
        let _ = write!(
            o,
            r#"<path class="acked" d="{}" stroke-width="1.8"/>"#,
            path(&thin(&steps(&acked)))
        );
        let _ = write!(
            o,
            r#"<path class="cwnd" d="{}" stroke-width="1.5"/></g>"#,
            path(&thin(&steps(&cwnd)))
        );
    }

    // The legend: line styles, then one entry per sending side.
    let lx = PLOT_RIGHT + 22.0;
    let mut ly = TOP1 + 4.0;
    let _ = write!(o, r##"<g class="legend" fill="#222">"##);
    let _ = write!(
        o,
        r##"<line x1="{lx}" y1="{ly}" x2="{:.1}" y2="{ly}" stroke="#222" stroke-width="1.8"/><text x="{:.1}" y="{:.1}">acknowledged (SND.UNA)</text>"##,
        lx + 24.0,
        lx + 30.0,
        ly + 4.0
    );
    ly += 18.0;
    let _ = write!(
        o,
        r##"<line x1="{lx}" y1="{ly}" x2="{:.1}" y2="{ly}" stroke="#222" stroke-dasharray="4 3"/><text x="{:.1}" y="{:.1}">sent (SND.NXT)</text>"##,
        lx + 24.0,
        lx + 30.0,
        ly + 4.0
    );
    ly += 28.0;
    for s in series.iter().take(LEGEND_MAX) {
        let colour = COLOURS[s.conn % COLOURS.len()];
        let _ = write!(
            o,
            r#"<g class="legend-entry" data-conn="{}"><line x1="{lx}" y1="{ly}" x2="{:.1}" y2="{ly}" stroke="{colour}" stroke-width="3"/><text x="{:.1}" y="{:.1}">{}</text></g>"#,
            s.conn + 1,
            lx + 24.0,
            lx + 30.0,
            ly + 4.0,
            esc(&s.label())
        );
        ly += 18.0;
    }
    if series.len() > LEGEND_MAX {
        let _ = write!(
            o,
            r#"<text x="{lx}" y="{:.1}">and {} more</text>"#,
            ly + 4.0,
            series.len() - LEGEND_MAX
        );
        ly += 18.0;
    }
    if all.len() > series.len() {
        let _ = write!(
            o,
            r#"<text class="left-out" x="{lx}" y="{:.1}">({} more not drawn)</text>"#,
            ly + 4.0,
            all.len() - series.len()
        );
    }
    o.push_str("</g></svg>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(ticks(10.0, 5), [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(ticks(3.7, 8), [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5]);
        assert_eq!(ticks(0.0, 5), [0.0]);
        let t = ticks(4_000_000.0, 5);
        assert_eq!(t[1], 1_000_000.0);
    }

    #[test]
    fn thinning_keeps_extremes_of_each_pixel_column() {
        // Ten points in one column, a dip in the middle: first, low, high and last survive.
        let pts: Vec<(f64, f64)> = (0..10)
            .map(|i| {
                (
                    5.0 + i as f64 * 0.01,
                    if i == 4 { 1.0 } else { 50.0 + i as f64 },
                )
            })
            .collect();
        let t = thin(&pts);
        assert_eq!(t, [pts[0], pts[4], pts[9]]);
        // Points in different columns all stay.
        let pts = [(1.0, 1.0), (2.0, 2.0), (3.0, 1.0)];
        assert_eq!(thin(&pts), pts);
    }

    #[test]
    fn steps_hold_the_previous_value() {
        assert_eq!(
            steps(&[(0.0, 1.0), (2.0, 3.0)]),
            [(0.0, 1.0), (2.0, 1.0), (2.0, 3.0)]
        );
    }

    #[test]
    fn many_series_are_capped_and_the_legend_says_so() {
        use crate::experiment::{Dir, Sample};
        let one = |conn: usize| Series {
            conn,
            dir: Dir::Up,
            client_port: 40000 + conn as u16,
            samples: (0..3)
                .map(|k| Sample {
                    t: synack::Instant::from_millis(k * 10),
                    acked: k * 1000,
                    sent: k * 1500,
                    cwnd: 14_480,
                    in_recovery: false,
                })
                .collect(),
            fast_retransmits: 0,
        };
        let all: Vec<Series> = (0..70).map(one).collect();
        let svg = render(&all, "many");
        assert_eq!(svg.matches("class=\"series\"").count(), DRAW_MAX);
        assert_eq!(svg.matches("class=\"legend-entry\"").count(), LEGEND_MAX);
        assert!(svg.contains(">and 50 more</text>"));
        assert!(svg.contains(">(6 more not drawn)</text>"));
    }
}
