//! Time series as server-rendered SVG: the Metrics tab's line charts and the
//! app list's sparklines. A chart is drawn in a fixed viewBox and scales to
//! the width of its card; colours come from CSS classes (`s-…`) so they follow
//! the dashboard's light and dark palettes. Every text that comes from data
//! is escaped.

use std::fmt::Write;

use chrono::{DateTime, Duration, TimeZone, Utc};

/// The viewBox of a chart, in user units.
const WIDTH: f64 = 480.0;
const HEIGHT: f64 = 210.0;
/// Room for the value labels on the left and the time labels below.
const LEFT: f64 = 62.0;
const RIGHT: f64 = 14.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;
/// Half the width of a time label such as `10:20`.
const TIME_LABEL_HALF_WIDTH: f64 = 16.0;
/// At most this many time labels, so that they never overlap.
const MAX_TIME_TICKS: i64 = 8;
/// About this many value gridlines above zero.
const VALUE_TICKS: f64 = 4.0;

/// What a chart's values measure, which decides how its labels read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    PerMinute,
    Milliseconds,
    Bytes,
    Percent,
}

impl Unit {
    pub(crate) fn format(self, value: f64) -> String {
        match self {
            Unit::PerMinute if value >= 1000.0 => format!("{}k/min", trimmed(value / 1000.0)),
            Unit::PerMinute => format!("{}/min", trimmed(value)),
            Unit::Milliseconds if value >= 1000.0 => format!("{} s", trimmed(value / 1000.0)),
            Unit::Milliseconds => format!("{} ms", trimmed(value)),
            Unit::Percent => format!("{} %", trimmed(value)),
            Unit::Bytes => format_bytes(value),
        }
    }

    /// The least top of a value axis, so that an idle app's noise (0.01 %
    /// CPU) stays a flat line near zero rather than filling the chart.
    fn least_top(self) -> f64 {
        match self {
            Unit::PerMinute | Unit::Milliseconds | Unit::Percent => 1.0,
            Unit::Bytes => 1_048_576.0,
        }
    }

    /// Gridline values from zero up to at least `max`, at round steps of
    /// the unit (binary multiples for bytes, so labels read 256 MiB).
    fn ticks(self, max: f64) -> Vec<f64> {
        let step = match self {
            Unit::Bytes => {
                let scale = binary_scale(max);
                binary_step(max / scale / VALUE_TICKS) * scale
            }
            _ => nice_step(max / VALUE_TICKS),
        };
        let count = (max / step).ceil().max(1.0) as usize;
        (0..=count).map(|i| i as f64 * step).collect()
    }
}

/// One line of a chart.
#[derive(Debug, Clone)]
pub(crate) struct Series {
    pub name: String,
    /// The colour's CSS class, e.g. `s-2xx` or `s-d0`.
    pub class: &'static str,
    /// Oldest first; `None` where nothing was measured (the line breaks).
    pub points: Vec<(DateTime<Utc>, Option<f64>)>,
}

/// A horizontal dashed line, such as a memory limit.
#[derive(Debug, Clone)]
pub(crate) struct Threshold {
    pub label: String,
    pub value: f64,
}

/// A moment marked on the time axis: a deploy or a restart.
#[derive(Debug, Clone)]
pub(crate) struct Mark {
    pub at: DateTime<Utc>,
    /// `deploy` or `restart`; anything else is drawn as a plain mark.
    pub kind: String,
    pub description: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Chart {
    /// What the chart shows, read out by screen readers.
    pub title: String,
    pub unit: Unit,
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// The time between two points: a longer gap breaks a line.
    pub step: Duration,
    pub series: Vec<Series>,
    pub thresholds: Vec<Threshold>,
    pub marks: Vec<Mark>,
    /// What the chart says when no series has a point.
    pub empty: &'static str,
}

impl Chart {
    /// The chart as an `<svg>` followed by its legend (`<ul class="legend">`).
    pub(crate) fn render(&self) -> String {
        let span = (self.until - self.from).num_milliseconds().max(1) as f64;
        let x_of = |at: DateTime<Utc>| {
            let offset = (at - self.from).num_milliseconds() as f64;
            LEFT + (offset / span).clamp(0.0, 1.0) * (WIDTH - LEFT - RIGHT)
        };
        let has_points = self
            .series
            .iter()
            .any(|series| series.points.iter().any(|(_, value)| value.is_some()));
        let max = self
            .series
            .iter()
            .flat_map(|series| series.points.iter().filter_map(|(_, value)| *value))
            .chain(self.thresholds.iter().map(|threshold| threshold.value))
            .fold(0.0_f64, f64::max);
        let ticks = self.unit.ticks(max.max(self.unit.least_top()));
        let top = ticks.last().copied().unwrap_or(1.0);
        let y_of = |value: f64| TOP + (1.0 - value / top) * (HEIGHT - TOP - BOTTOM);

        let mut svg = String::new();
        let _ = write!(
            svg,
            r#"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{}" font-size="12">"#,
            escape(&self.title)
        );
        let _ = write!(svg, "<title>{}</title>", escape(&self.title));
        for value in &ticks {
            let y = y_of(*value);
            let _ = write!(
                svg,
                r#"<line class="gridline" x1="{LEFT}" y1="{y:.1}" x2="{}" y2="{y:.1}"/>"#,
                WIDTH - RIGHT
            );
            if has_points {
                let _ = write!(
                    svg,
                    r#"<text class="axis" x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
                    LEFT - 6.0,
                    y + 4.0,
                    escape(&self.unit.format(*value))
                );
            }
        }
        let baseline = HEIGHT - BOTTOM;
        for at in time_ticks(self.from, self.until) {
            let x = x_of(at);
            let _ = write!(
                svg,
                r#"<line class="tick" x1="{x:.1}" y1="{baseline}" x2="{x:.1}" y2="{}"/>"#,
                baseline + 4.0
            );
            // A label at the very start would run into the zone's.
            if x >= LEFT + TIME_LABEL_HALF_WIDTH {
                let _ = write!(
                    svg,
                    r#"<text class="axis" x="{x:.1}" y="{}" text-anchor="middle">{}</text>"#,
                    baseline + 17.0,
                    time_label(at, self.until - self.from)
                );
            }
        }
        let _ = write!(
            svg,
            r#"<text class="axis axis-zone" x="{}" y="{}" text-anchor="end">UTC</text>"#,
            LEFT - 6.0,
            baseline + 17.0
        );

        if has_points {
            for threshold in &self.thresholds {
                let y = y_of(threshold.value);
                let label = escape(&threshold.label);
                let _ = write!(
                    svg,
                    r#"<g class="threshold"><title>{label}</title><line x1="{LEFT}" y1="{y:.1}" x2="{}" y2="{y:.1}"/><text class="axis" x="{}" y="{:.1}" text-anchor="end">{label}</text></g>"#,
                    WIDTH - RIGHT,
                    WIDTH - RIGHT - 2.0,
                    y - 4.0
                );
            }
            for series in &self.series {
                let path = line_path(&series.points, self.step, &x_of, &y_of);
                if path.is_empty() {
                    continue;
                }
                let _ = write!(
                    svg,
                    r#"<path class="line {}" d="{path}"><title>{}</title></path>"#,
                    series.class,
                    escape(&series.name)
                );
            }
        } else {
            let _ = write!(
                svg,
                r#"<text class="chart-empty" x="{}" y="{}" text-anchor="middle">{}</text>"#,
                (LEFT + WIDTH - RIGHT) / 2.0,
                (TOP + HEIGHT - BOTTOM) / 2.0,
                escape(self.empty)
            );
        }

        for mark in self.marks_in_window() {
            let x = x_of(mark.at);
            let _ = write!(
                svg,
                r#"<g class="mark mark-{}"><title>{} · {}</title><line class="mark-line" x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{}"/><line class="mark-hit" x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{}"/><circle cx="{x:.1}" cy="{TOP}" r="3.5"/></g>"#,
                mark_class(&mark.kind),
                escape(&mark.description),
                mark.at.format("%Y-%m-%d %H:%M:%S UTC"),
                HEIGHT - BOTTOM,
                HEIGHT - BOTTOM,
            );
        }
        svg.push_str("</svg>");
        svg.push_str(&self.legend(has_points));
        svg
    }

    fn marks_in_window(&self) -> impl Iterator<Item = &Mark> {
        self.marks
            .iter()
            .filter(|mark| mark.at >= self.from && mark.at <= self.until)
    }

    fn legend(&self, has_points: bool) -> String {
        let mut items = String::new();
        if has_points {
            for series in &self.series {
                let _ = write!(
                    items,
                    r#"<li><span class="swatch {}"></span>{}</li>"#,
                    series.class,
                    escape(&series.name)
                );
            }
            for threshold in &self.thresholds {
                let _ = write!(
                    items,
                    r#"<li><span class="swatch swatch-threshold"></span>{}</li>"#,
                    escape(&threshold.label)
                );
            }
        }
        for (kind, label) in [("deploy", "Deploy"), ("restart", "Restart")] {
            if self.marks_in_window().any(|mark| mark.kind == kind) {
                let _ = write!(
                    items,
                    r#"<li><span class="swatch swatch-mark mark-{kind}"></span>{label}</li>"#
                );
            }
        }
        if items.is_empty() {
            String::new()
        } else {
            format!(r#"<ul class="legend">{items}</ul>"#)
        }
    }
}

/// A small request-rate line for the app list: one point a minute, oldest
/// first. Without points it is a flat line.
pub(crate) fn sparkline(per_minute: &[u64]) -> String {
    const SPARK_WIDTH: f64 = 120.0;
    const SPARK_HEIGHT: f64 = 24.0;
    const PAD: f64 = 2.0;
    let total: u64 = per_minute.iter().sum();
    let title = match total {
        0 => "No requests in the last hour".to_string(),
        1 => "1 request in the last hour".to_string(),
        n => format!("{n} requests in the last hour"),
    };
    let max = per_minute.iter().copied().max().unwrap_or(0).max(1) as f64;
    let last = per_minute.len().saturating_sub(1).max(1) as f64;
    let points: Vec<String> = if per_minute.len() < 2 {
        let y = SPARK_HEIGHT - PAD;
        vec![format!("0,{y}"), format!("{SPARK_WIDTH},{y}")]
    } else {
        per_minute
            .iter()
            .enumerate()
            .map(|(i, count)| {
                let x = i as f64 / last * SPARK_WIDTH;
                let y = PAD + (1.0 - *count as f64 / max) * (SPARK_HEIGHT - 2.0 * PAD);
                format!("{x:.1},{y:.1}")
            })
            .collect()
    };
    format!(
        r#"<svg class="sparkline{}" viewBox="0 0 {SPARK_WIDTH} {SPARK_HEIGHT}" width="{SPARK_WIDTH}" height="{SPARK_HEIGHT}" role="img" aria-label="{title}"><title>{title}</title><polyline points="{}"/></svg>"#,
        if total == 0 { " sparkline-idle" } else { "" },
        points.join(" ")
    )
}

/// The path of a series: a subpath per run of points without gaps. A point
/// alone is a zero-length segment, which the round line cap draws as a dot.
fn line_path(
    points: &[(DateTime<Utc>, Option<f64>)],
    step: Duration,
    x_of: &impl Fn(DateTime<Utc>) -> f64,
    y_of: &impl Fn(f64) -> f64,
) -> String {
    // A gap of more than one and a half steps means nothing was measured in between.
    let longest_gap = step * 3 / 2;
    let mut path = String::new();
    let mut previous: Option<DateTime<Utc>> = None;
    let mut run = 0;
    for (at, value) in points {
        let Some(value) = value else {
            previous = None;
            continue;
        };
        let (x, y) = (x_of(*at), y_of(*value));
        let continues = previous.is_some_and(|previous| *at - previous <= longest_gap);
        if continues {
            let _ = write!(path, " L{x:.1} {y:.1}");
            run += 1;
        } else {
            if run == 1 {
                path.push_str(" h0");
            }
            if !path.is_empty() {
                path.push(' ');
            }
            let _ = write!(path, "M{x:.1} {y:.1}");
            run = 1;
        }
        previous = Some(*at);
    }
    if run == 1 {
        path.push_str(" h0");
    }
    path
}

/// Times on the axis at a round step (10 minutes, 3 hours, a day…) of UTC.
fn time_ticks(from: DateTime<Utc>, until: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    const STEPS_SECONDS: [i64; 13] = [
        60, 300, 600, 900, 1800, 3600, 7200, 10800, 14400, 21600, 43200, 86400, 172800,
    ];
    let (start, end) = (from.timestamp(), until.timestamp());
    let span = (end - start).max(1);
    let step = STEPS_SECONDS
        .into_iter()
        .find(|step| span / step <= MAX_TIME_TICKS)
        .unwrap_or(604800);
    let first = start.div_euclid(step) * step + if start % step == 0 { 0 } else { step };
    (0..)
        .map(|i| first + i * step)
        .take_while(|&t| t <= end)
        .filter_map(|t| Utc.timestamp_opt(t, 0).single())
        .collect()
}

fn time_label(at: DateTime<Utc>, span: Duration) -> String {
    if span > Duration::days(2) {
        at.format("%b %d").to_string()
    } else {
        at.format("%H:%M").to_string()
    }
}

fn mark_class(kind: &str) -> &'static str {
    match kind {
        "deploy" => "deploy",
        "restart" => "restart",
        _ => "other",
    }
}

/// 1, 2, 2.5 or 5 times a power of ten, the smallest at least `raw`.
fn nice_step(raw: f64) -> f64 {
    if raw <= 0.0 || !raw.is_finite() {
        return 1.0;
    }
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|factor| factor * magnitude)
        .find(|step| *step >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * magnitude)
}

/// A power of two at least `raw` (at most 512), for steps in a binary unit.
fn binary_step(raw: f64) -> f64 {
    (0..10)
        .map(|power| f64::from(1 << power))
        .find(|step| *step >= raw)
        .unwrap_or(512.0)
}

/// The binary unit (1, KiB, MiB, GiB) that `bytes` is best read in.
fn binary_scale(bytes: f64) -> f64 {
    let mut scale = 1.0;
    while bytes / scale >= 1024.0 && scale < 1024f64.powi(4) {
        scale *= 1024.0;
    }
    scale
}

fn format_bytes(bytes: f64) -> String {
    let scale = binary_scale(bytes);
    let unit = match scale as u64 {
        1 => "B",
        1024 => "KiB",
        1_048_576 => "MiB",
        1_073_741_824 => "GiB",
        _ => "TiB",
    };
    format!("{} {unit}", trimmed(bytes / scale))
}

/// Two significant digits below 1 and one decimal above, without trailing
/// zeros: `0.0025`, `0.25`, `1.5`, `12`.
fn trimmed(value: f64) -> String {
    let decimals = if value != 0.0 && value.abs() < 1.0 {
        (1 - value.abs().log10().floor() as i32).clamp(1, 6) as usize
    } else {
        1
    };
    let text = format!("{value:.decimals$}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Text and attribute values in SVG and HTML.
pub(crate) fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap() + Duration::minutes(minute)
    }

    fn chart(series: Vec<Series>) -> Chart {
        Chart {
            title: "Requests per minute".to_string(),
            unit: Unit::PerMinute,
            from: at(0),
            until: at(60),
            step: Duration::minutes(1),
            series,
            thresholds: Vec::new(),
            marks: Vec::new(),
            empty: "No requests in this window",
        }
    }

    fn paths(svg: &str) -> Vec<&str> {
        svg.split(r#"<path class="line "#)
            .skip(1)
            .map(|rest| {
                let d = rest.split_once(r#"d=""#).unwrap().1;
                d.split_once('"').unwrap().0
            })
            .collect()
    }

    #[test]
    fn a_series_becomes_a_line_through_its_points_scaled_to_the_axis() {
        let mut requests = chart(vec![Series {
            name: "2xx".to_string(),
            class: "s-2xx",
            points: vec![
                (at(0), Some(0.0)),
                (at(30), Some(40.0)),
                (at(60), Some(20.0)),
            ],
        }]);
        requests.step = Duration::minutes(30);
        let svg = requests.render();
        // 40/min at most: gridlines every 10/min up to 40, x from 62 to 466.
        assert_eq!(paths(&svg), ["M62.0 182.0 L264.0 12.0 L466.0 97.0"]);
        assert!(svg.contains(r#"class="line s-2xx""#), "{svg}");
        for label in ["0/min", "10/min", "20/min", "30/min", "40/min"] {
            assert!(svg.contains(&format!(">{label}</text>")), "{label}: {svg}");
        }
        assert!(
            !svg.contains(">10:00</text>"),
            "too close to the zone: {svg}"
        );
        for time in ["10:10", "10:30", "11:00"] {
            assert!(svg.contains(&format!(">{time}</text>")), "{time}: {svg}");
        }
        assert!(svg.contains(">UTC</text>"), "{svg}");
        assert!(svg.starts_with(r#"<svg class="chart" viewBox="0 0 480 210""#));
        assert!(svg
            .contains(r#"<ul class="legend"><li><span class="swatch s-2xx"></span>2xx</li></ul>"#));
    }

    #[test]
    fn lines_break_where_nothing_was_measured_and_a_lone_point_is_a_dot() {
        let svg = chart(vec![Series {
            name: "p50".to_string(),
            class: "s-p50",
            points: vec![
                (at(0), Some(10.0)),
                (at(1), Some(10.0)),
                (at(2), None),
                (at(3), Some(10.0)),
                // Five minutes without a point: the dyno did not run.
                (at(9), Some(10.0)),
                (at(10), Some(10.0)),
            ],
        }])
        .render();
        let d = paths(&svg)[0];
        assert_eq!(d.matches('M').count(), 3, "{d}");
        assert_eq!(d.matches(" h0").count(), 1, "{d}");
        assert!(d.contains("h0 M"), "{d}");
    }

    #[test]
    fn memory_is_labelled_in_binary_units_with_the_limit_dashed_across() {
        let mut memory = chart(vec![Series {
            name: "web.1".to_string(),
            class: "s-d0",
            points: vec![
                (at(0), Some(12.0 * 1_048_576.0)),
                (at(1), Some(14.0 * 1_048_576.0)),
            ],
        }]);
        memory.unit = Unit::Bytes;
        memory.thresholds = vec![Threshold {
            label: "limit 64 MiB".to_string(),
            value: 64.0 * 1_048_576.0,
        }];
        let svg = memory.render();
        assert!(svg.contains(">64 MiB</text>"), "{svg}");
        assert!(svg.contains(">16 MiB</text>"), "{svg}");
        // The limit is the top of the axis here.
        assert!(
            svg.contains(r#"<g class="threshold"><title>limit 64 MiB</title><line x1="62" y1="12.0" x2="466" y2="12.0"/>"#),
            "{svg}"
        );
        assert!(svg.contains(r#"<span class="swatch swatch-threshold"></span>limit 64 MiB</li>"#));
    }

    #[test]
    fn deploys_and_restarts_are_marked_where_they_happened_with_what_they_were() {
        let mut marked = chart(vec![Series {
            name: "2xx".to_string(),
            class: "s-2xx",
            points: vec![(at(0), Some(1.0)), (at(1), Some(1.0))],
        }]);
        marked.marks = vec![
            Mark {
                at: at(15),
                kind: "deploy".to_string(),
                description: "Deploy v7 <by \"me\">".to_string(),
            },
            Mark {
                at: at(45),
                kind: "restart".to_string(),
                description: "2 restarts".to_string(),
            },
            Mark {
                at: at(-5),
                kind: "deploy".to_string(),
                description: "Deploy v6".to_string(),
            },
        ];
        let svg = marked.render();
        assert!(
            svg.contains(r#"<g class="mark mark-deploy"><title>Deploy v7 &lt;by &quot;me&quot;&gt; · 2026-11-22 10:15:00 UTC</title><line class="mark-line" x1="163.0" y1="12" x2="163.0" y2="182"/>"#),
            "{svg}"
        );
        assert!(svg.contains(r#"<g class="mark mark-restart"><title>2 restarts · 2026-11-22 10:45:00 UTC</title><line class="mark-line" x1="365.0""#), "{svg}");
        assert!(!svg.contains("Deploy v6"), "outside the window: {svg}");
        assert!(svg.contains("mark-deploy\"></span>Deploy</li>"), "{svg}");
        assert!(svg.contains("mark-restart\"></span>Restart</li>"), "{svg}");
    }

    #[test]
    fn a_chart_without_points_says_so_and_still_marks_events() {
        let mut empty = chart(vec![Series {
            name: "web.1".to_string(),
            class: "s-d0",
            points: vec![(at(0), None)],
        }]);
        empty.empty = "No dyno measured yet";
        empty.marks = vec![Mark {
            at: at(30),
            kind: "deploy".to_string(),
            description: "Deploy v1".to_string(),
        }];
        let svg = empty.render();
        assert!(svg.contains(">No dyno measured yet</text>"), "{svg}");
        assert!(paths(&svg).is_empty(), "{svg}");
        assert!(!svg.contains("/min</text>"), "no value labels: {svg}");
        assert!(svg.contains("mark-deploy"), "{svg}");
        assert!(
            !svg.contains("web.1"),
            "no legend for a line not drawn: {svg}"
        );

        let none = chart(Vec::new()).render();
        assert!(
            none.contains(">No requests in this window</text>"),
            "{none}"
        );
        assert!(!none.contains("legend"), "{none}");
    }

    #[test]
    fn names_from_data_are_escaped() {
        let svg = chart(vec![Series {
            name: "<script>alert('x')</script>".to_string(),
            class: "s-d0",
            points: vec![(at(0), Some(1.0))],
        }])
        .render();
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(
            svg.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"),
            "{svg}"
        );
    }

    #[test]
    fn values_read_with_their_units() {
        assert_eq!(Unit::Bytes.format(12.0 * 1_048_576.0), "12 MiB");
        assert_eq!(Unit::Bytes.format(1.5 * 1_073_741_824.0), "1.5 GiB");
        assert_eq!(Unit::Bytes.format(512.0), "512 B");
        assert_eq!(Unit::Milliseconds.format(250.0), "250 ms");
        assert_eq!(Unit::Milliseconds.format(1500.0), "1.5 s");
        assert_eq!(Unit::Percent.format(40.0), "40 %");
        assert_eq!(Unit::PerMinute.format(0.25), "0.25/min");
        assert_eq!(Unit::Percent.format(0.0025), "0.0025 %");
        assert_eq!(Unit::Percent.format(0.5), "0.5 %");
        assert_eq!(Unit::Percent.format(0.0), "0 %");
        assert_eq!(Unit::PerMinute.format(1200.0), "1.2k/min");
    }

    #[test]
    fn an_idle_dyno_stays_near_the_bottom_of_a_one_percent_axis() {
        let mut cpu = chart(vec![Series {
            name: "web.1".to_string(),
            class: "s-d0",
            points: vec![(at(0), Some(0.01)), (at(1), Some(0.0))],
        }]);
        cpu.unit = Unit::Percent;
        let svg = cpu.render();
        assert!(svg.contains(">1 %</text>"), "{svg}");
        assert!(svg.contains(">0.25 %</text>"), "{svg}");
        assert_eq!(paths(&svg), ["M62.0 180.3 L68.7 182.0"]);
    }

    #[test]
    fn time_labels_follow_the_window() {
        let day = time_ticks(at(0), at(24 * 60));
        assert_eq!(day.len(), 8, "every 3 hours: {day:?}");
        let week = time_ticks(at(0), at(7 * 24 * 60));
        assert_eq!(week.len(), 7, "every day: {week:?}");
        assert_eq!(time_label(week[0], Duration::days(7)), "Nov 23");
    }

    #[test]
    fn a_sparkline_rises_with_requests_and_says_how_many() {
        let mut minutes = vec![0; 60];
        minutes[59] = 40;
        minutes[30] = 2;
        let svg = sparkline(&minutes);
        assert!(
            svg.contains("<title>42 requests in the last hour</title>"),
            "{svg}"
        );
        assert!(svg.contains(r#"points="0.0,22.0 "#), "{svg}");
        assert!(svg.ends_with(r#" 120.0,2.0"/></svg>"#), "{svg}");

        let idle = sparkline(&[]);
        assert!(idle.contains("No requests in the last hour"), "{idle}");
        assert!(idle.contains(r#"points="0,22 120,22""#), "{idle}");
    }
}
