//! The chart of figure (f): throughput against batch size, one panel per workload, one line per
//! contender (medians), drawn with `plotters` to SVG (text as SVG `<text>`, so no font files).

use plotters::prelude::*;

use crate::Result;
use crate::work::{BATCHES, CONTENDERS, Results, Work};

/// A colour per contender, in [`CONTENDERS`] order: `redis-benchmark` black, redpipe blues and
/// greens, redis-rs oranges.
const COLOURS: [RGBColor; 7] = [
    RGBColor(0, 0, 0),
    RGBColor(31, 119, 180),
    RGBColor(23, 190, 207),
    RGBColor(44, 160, 44),
    RGBColor(152, 223, 138),
    RGBColor(255, 127, 14),
    RGBColor(214, 39, 40),
];

/// Writes the chart of `results` to `path`.
pub(crate) fn write(path: &str, results: &Results) -> Result<()> {
    let root = SVGBackend::new(path, (1600, 820)).into_drawing_area();
    root.fill(&WHITE)?;
    let (title, body) = root.split_vertically(40);
    title.titled(
        "redpipe end to end, one connection: commands/s by batch size (median; redis-benchmark = ceiling)",
        ("sans-serif", 20),
    )?;
    let (panels, legend) = body.split_horizontally(1400);
    let lo = *BATCHES.first().unwrap_or(&1) as f64;
    let hi = *BATCHES.last().unwrap_or(&1000) as f64;
    for (area, w) in panels.split_evenly((2, 4)).iter().zip(Work::ALL) {
        let points = |who: usize| -> Vec<(f64, f64)> {
            BATCHES
                .iter()
                .filter_map(|&b| {
                    let s = results.rate(w, b, who)?;
                    Some((b as f64, s.median() / 1e6))
                })
                .collect()
        };
        let ys: Vec<f64> = (0..CONTENDERS.len())
            .flat_map(points)
            .map(|(_, y)| y)
            .collect();
        let top = ys.iter().copied().fold(0.0f64, f64::max).max(0.001) * 1.3;
        let bottom = ys.iter().copied().fold(top, f64::min) * 0.7;
        // Log on both axes: batch 1 and batch 1000 differ by a hundredfold.
        let mut chart = ChartBuilder::on(area)
            .caption(w.label(), ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(32)
            .y_label_area_size(48)
            .build_cartesian_2d((lo..hi).log_scale(), (bottom..top).log_scale())?;
        chart
            .configure_mesh()
            .x_desc("batch (commands per pipeline)")
            .y_desc("M commands/s (log)")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.2}"))
            .x_labels(4)
            .y_labels(8)
            .draw()?;
        for (who, colour) in COLOURS.iter().enumerate() {
            let pts = points(who);
            if pts.is_empty() {
                continue;
            }
            chart.draw_series(LineSeries::new(pts.clone(), colour.stroke_width(2)))?;
            chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, colour.filled())))?;
        }
    }
    // The legend, once, to the right of the panels.
    for (who, (name, colour)) in CONTENDERS.iter().zip(COLOURS).enumerate() {
        let y = 60 + 28 * who as i32;
        legend.draw(&PathElement::new(
            vec![(10, y), (40, y)],
            colour.stroke_width(3),
        ))?;
        legend.draw(&Text::new(*name, (48, y - 8), ("sans-serif", 15)))?;
    }
    legend.draw(&Text::new(
        "profile: batch = items",
        (10, 60 + 28 * CONTENDERS.len() as i32),
        ("sans-serif", 13),
    ))?;
    root.present()?;
    Ok(())
}
