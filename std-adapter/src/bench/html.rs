//! A self-contained HTML report: the results table and an inline SVG chart of compression ratio
//! against throughput (log scale), compress and decompress per codec. No scripts, no external files.

use std::fmt::Write;

use super::engine::BenchReport;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 420.0;
const MARGIN: f64 = 60.0;

/// Escapes text for HTML content and attributes.
fn escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

/// Powers of ten covering `lo..=hi` (both > 0), for log-axis ticks.
fn decades(lo: f64, hi: f64) -> (f64, f64) {
    let lo = 10f64.powf(lo.log10().floor());
    let hi = 10f64.powf(hi.log10().ceil());
    if hi > lo { (lo, hi) } else { (lo, lo * 10.0) }
}

/// The SVG chart for `report`.
pub fn svg_chart(report: &BenchReport) -> String {
    let speeds: Vec<f64> = report
        .results
        .iter()
        .flat_map(|r| [r.compress_mb_s, r.decompress_mb_s])
        .filter(|s| s.is_finite() && *s > 0.0)
        .collect();
    let (x_lo, x_hi) = decades(
        speeds
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min)
            .min(1e6),
        speeds.iter().copied().fold(1.0, f64::max),
    );
    let y_hi = report
        .results
        .iter()
        .map(|r| r.ratio)
        .fold(1.0, f64::max)
        .ceil()
        .max(2.0);
    let plot_w = WIDTH - 2.0 * MARGIN;
    let plot_h = HEIGHT - 2.0 * MARGIN;
    let x = |speed: f64| {
        MARGIN + (speed.log10() - x_lo.log10()) / (x_hi.log10() - x_lo.log10()) * plot_w
    };
    let y = |ratio: f64| HEIGHT - MARGIN - (ratio - 1.0).max(0.0) / (y_hi - 1.0) * plot_h;

    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = write!(
        svg,
        r##"<rect x="{MARGIN}" y="{MARGIN}" width="{plot_w}" height="{plot_h}" fill="#fafafa" stroke="#999"/>"##
    );
    let mut tick = x_lo;
    while tick <= x_hi * 1.0001 {
        let tx = x(tick);
        let _ = write!(
            svg,
            r##"<line x1="{tx:.1}" y1="{MARGIN}" x2="{tx:.1}" y2="{:.1}" stroke="#ddd"/><text x="{tx:.1}" y="{:.1}" text-anchor="middle">{tick}</text>"##,
            HEIGHT - MARGIN,
            HEIGHT - MARGIN + 16.0
        );
        tick *= 10.0;
    }
    let steps = y_hi - 1.0;
    let step = if steps > 8.0 {
        (steps / 8.0).ceil()
    } else {
        1.0
    };
    let mut ratio = 1.0;
    while ratio <= y_hi + 1e-9 {
        let ty = y(ratio);
        let _ = write!(
            svg,
            r##"<line x1="{MARGIN}" y1="{ty:.1}" x2="{:.1}" y2="{ty:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{ratio}</text>"##,
            WIDTH - MARGIN,
            MARGIN - 6.0,
            ty + 4.0
        );
        ratio += step;
    }
    let _ = write!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">throughput, MB/s (log scale)</text><text x="16" y="{:.1}" text-anchor="middle" transform="rotate(-90 16 {:.1})">compression ratio</text>"#,
        WIDTH / 2.0,
        HEIGHT - 16.0,
        HEIGHT / 2.0,
        HEIGHT / 2.0
    );
    for r in &report.results {
        let name = escape(&r.codec);
        let ry = y(r.ratio);
        if r.compress_mb_s.is_finite() && r.compress_mb_s > 0.0 {
            let cx = x(r.compress_mb_s);
            let _ = write!(
                svg,
                r##"<circle cx="{cx:.1}" cy="{ry:.1}" r="5" fill="#1f77b4"><title>{name} compress: {:.0} MB/s, ratio {:.3}</title></circle><text x="{:.1}" y="{:.1}">{name}</text>"##,
                r.compress_mb_s,
                r.ratio,
                cx + 7.0,
                ry - 6.0
            );
        }
        if r.decompress_mb_s.is_finite() && r.decompress_mb_s > 0.0 {
            let dx = x(r.decompress_mb_s);
            let _ = write!(
                svg,
                r##"<rect x="{:.1}" y="{:.1}" width="9" height="9" fill="none" stroke="#d62728" stroke-width="2"><title>{name} decompress: {:.0} MB/s, ratio {:.3}</title></rect>"##,
                dx - 4.5,
                ry - 4.5,
                r.decompress_mb_s,
                r.ratio
            );
        }
    }
    let _ = write!(
        svg,
        r##"<circle cx="{:.1}" cy="24" r="5" fill="#1f77b4"/><text x="{:.1}" y="28">compress</text><rect x="{:.1}" y="19.5" width="9" height="9" fill="none" stroke="#d62728" stroke-width="2"/><text x="{:.1}" y="28">decompress</text></svg>"##,
        MARGIN + 6.0,
        MARGIN + 16.0,
        MARGIN + 100.0,
        MARGIN + 114.0
    );
    svg
}

/// The whole report page.
pub fn render_html(report: &BenchReport) -> String {
    let mut html = String::new();
    let title = format!("trueno-zram bench: {}", escape(&report.corpus));
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #ccc;padding:4px 10px;text-align:right}}td:first-child{{text-align:left}}</style>\
         </head><body><h1>{title}</h1><p>{} pages ({:.1} MiB), each compressed on its own, one thread, \
         median of {} rounds, {} backend.</p>",
        report.pages,
        (report.pages * crate::PAGE_SIZE) as f64 / (1024.0 * 1024.0),
        report.rounds,
        escape(&report.backend)
    );
    html.push_str(
        "<table><tr><th>codec</th><th>compress MB/s</th><th>decompress MB/s</th><th>ratio</th>\
         <th>same-fill pages</th><th>stored pages</th></tr>",
    );
    for r in &report.results {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{:.0}</td><td>{:.0}</td><td>{:.3}</td><td>{}</td><td>{}</td></tr>",
            escape(&r.codec),
            r.compress_mb_s,
            r.decompress_mb_s,
            r.ratio,
            r.same_fill_pages,
            r.stored_pages
        );
    }
    html.push_str("</table><h2>Ratio against throughput</h2>");
    html.push_str(&svg_chart(report));
    html.push_str("</body></html>\n");
    html
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::engine::CodecResult;

    fn report() -> BenchReport {
        let result = |codec: &str, c: f64, d: f64, ratio: f64| CodecResult {
            codec: codec.into(),
            pages: 10,
            input_bytes: 40960,
            stored_bytes: 10000,
            ratio,
            compr_data_size: 9992,
            compress_mb_s: c,
            decompress_mb_s: d,
            same_fill_pages: 1,
            stored_pages: 2,
        };
        BenchReport {
            corpus: "a<b>.bin".into(),
            pages: 10,
            rounds: 3,
            backend: "avx2".into(),
            results: vec![
                result("lz4", 900.0, 3000.0, 3.1),
                result("zstd-3", 380.0, 1100.0, 5.1),
            ],
        }
    }

    #[test]
    fn the_page_holds_table_and_chart() {
        let html = render_html(&report());
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("a&lt;b&gt;.bin") && !html.contains("a<b>"));
        assert!(html.contains("<td>zstd-3</td><td>380</td><td>1100</td><td>5.100</td>"));
        assert_eq!(
            html.matches("<circle").count(),
            3,
            "two codecs and the legend"
        );
        assert!(html.contains("<svg") && html.contains("</svg>"));
    }

    #[test]
    fn points_land_inside_the_plot() {
        let svg = svg_chart(&report());
        for part in svg.split("<circle cx=\"").skip(1) {
            let cx: f64 = part.split('"').next().unwrap().parse().unwrap();
            assert!((MARGIN..=WIDTH - MARGIN).contains(&cx), "{cx}");
        }
        // The faster codec sits further right.
        let pos = |name: &str| svg.find(&format!("{name} compress")).unwrap();
        assert!(pos("lz4") < pos("zstd-3"));
    }
}
