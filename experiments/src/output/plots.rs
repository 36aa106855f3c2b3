//! PNG plots drawn with `plotters` (bitmap backend, text in the vendored
//! DejaVu Sans, `experiments/fonts/`).

use std::path::Path;

use plotters::prelude::*;
use plotters::style::FontStyle;

/// Registers the vendored font once (plotters draws text with it).
fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../../fonts/DejaVuSans.ttf");
        plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
            .unwrap_or_else(|_| panic!("the vendored font is a valid TTF"));
    });
}

type PlotResult = Result<(), Box<dyn std::error::Error>>;

/// Errors name the file.
fn named(path: &Path, error: impl std::fmt::Display) -> Box<dyn std::error::Error> {
    format!("{}: {error}", path.display()).into()
}

/// One line of points per model, coloured from blue (first epoch) to red
/// (last); circles for one group, triangles for the other.
pub struct Trajectory {
    pub points: Vec<[f32; 2]>,
    /// `true`: circle markers (e.g. pretrained); `false`: triangles.
    pub circle: bool,
}

fn epoch_colour(step: usize, steps: usize) -> RGBColor {
    let t = step as f64 / steps.max(1) as f64;
    RGBColor((40.0 + 215.0 * t) as u8, 60, (255.0 - 215.0 * t) as u8)
}

fn bounds(values: impl Iterator<Item = f32> + Clone) -> (f32, f32) {
    let low = values.clone().fold(f32::INFINITY, f32::min);
    let high = values.fold(f32::NEG_INFINITY, f32::max);
    let pad = ((high - low) * 0.05).max(1e-3);
    (low - pad, high + pad)
}

/// Draws `trajectories` in 2-D (e.g. a t-SNE embedding) with a legend
/// for the two marker shapes.
pub fn plot_trajectories(
    path: &Path,
    title: &str,
    trajectories: &[Trajectory],
    labels: (&str, &str),
) -> PlotResult {
    register_font();
    let all = trajectories.iter().flat_map(|t| t.points.iter());
    let (x0, x1) = bounds(all.clone().map(|p| p[0]));
    let (y0, y1) = bounds(all.map(|p| p[1]));
    let root = BitMapBackend::new(path, (1000, 900)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| named(path, e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(30)
        .y_label_area_size(40)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(|e| named(path, e))?;
    chart.configure_mesh().draw().map_err(|e| named(path, e))?;
    for trajectory in trajectories {
        let steps = trajectory.points.len().saturating_sub(1);
        for (step, pair) in trajectory.points.windows(2).enumerate() {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(pair[0][0], pair[0][1]), (pair[1][0], pair[1][1])],
                    epoch_colour(step, steps).stroke_width(1),
                )))
                .map_err(|e| named(path, e))?;
        }
        for (step, p) in trajectory.points.iter().enumerate() {
            let colour = epoch_colour(step, steps).filled();
            if trajectory.circle {
                chart
                    .draw_series(std::iter::once(Circle::new((p[0], p[1]), 3, colour)))
                    .map_err(|e| named(path, e))?;
            } else {
                chart
                    .draw_series(std::iter::once(TriangleMarker::new(
                        (p[0], p[1]),
                        4,
                        colour,
                    )))
                    .map_err(|e| named(path, e))?;
            }
        }
    }
    // Legend: the shapes, and the colour scale in words.
    let legend = [
        (format!("o {}", labels.0), 0),
        (format!("^ {}", labels.1), 1),
        ("colour: first epoch (blue) -> last (red)".to_string(), 2),
    ];
    for (text, row) in legend {
        root.draw(&Text::new(
            text,
            (80, 60 + 22 * row),
            ("sans-serif", 18).into_font().color(&BLACK),
        ))
        .map_err(|e| named(path, e))?;
    }
    root.present().map_err(|e| named(path, e))?;
    Ok(())
}

/// The chart of a plot whose x axis is `categories` (at 0, 1, ...; each
/// labelled by name) and whose y axis spans `y`, on `root` filled white.
fn category_chart<'a, 'b>(
    path: &Path,
    root: &'a DrawingArea<BitMapBackend<'b>, plotters::coord::Shift>,
    title: &str,
    (x_label, y_label): (&str, &str),
    categories: &[String],
    (y0, y1): (f32, f32),
) -> Result<
    ChartContext<
        'a,
        BitMapBackend<'b>,
        Cartesian2d<plotters::coord::types::RangedCoordf32, plotters::coord::types::RangedCoordf32>,
    >,
    Box<dyn std::error::Error>,
> {
    root.fill(&WHITE).map_err(|e| named(path, e))?;
    let n = categories.len() as f32;
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .build_cartesian_2d(-0.5f32..n - 0.5, y0..y1)
        .map_err(|e| named(path, e))?;
    let names = categories.to_vec();
    chart
        .configure_mesh()
        .x_labels(categories.len())
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() < 0.01 && i >= 0.0 && (i as usize) < names.len() {
                names[i as usize].clone()
            } else {
                String::new()
            }
        })
        .x_desc(x_label)
        .y_desc(y_label)
        .draw()
        .map_err(|e| named(path, e))?;
    Ok(chart)
}

/// A strip plot: for each x category, two groups of values side by side
/// (points, and a bar at their mean).
pub fn plot_strips(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    categories: &[String],
    groups: (&str, &str),
    values: &[(Vec<f64>, Vec<f64>)],
) -> PlotResult {
    register_font();
    let all = values
        .iter()
        .flat_map(|(a, b)| a.iter().chain(b))
        .map(|&v| v as f32);
    let (y0, y1) = bounds(all);
    let root = BitMapBackend::new(path, (900, 600)).into_drawing_area();
    let mut chart = category_chart(path, &root, title, (x_label, y_label), categories, (y0, y1))?;
    let colours = [RGBColor(30, 90, 200), RGBColor(210, 80, 30)];
    for (i, (first, second)) in values.iter().enumerate() {
        for (g, (group, offset)) in [(first, -0.15f32), (second, 0.15)].into_iter().enumerate() {
            let x = i as f32 + offset;
            let count = group.len().max(1) as f32;
            chart
                .draw_series(group.iter().enumerate().map(|(k, &v)| {
                    let jitter = (k as f32 / count - 0.5) * 0.12;
                    Circle::new((x + jitter, v as f32), 3, colours[g].filled())
                }))
                .map_err(|e| named(path, e))?;
            if !group.is_empty() {
                let mean = (group.iter().sum::<f64>() / group.len() as f64) as f32;
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(x - 0.1, mean), (x + 0.1, mean)],
                        colours[g].stroke_width(3),
                    )))
                    .map_err(|e| named(path, e))?;
            }
        }
    }
    // The legend at the top right, where errors falling with x leave room.
    for (g, name) in [groups.0, groups.1].into_iter().enumerate() {
        root.draw(&Text::new(
            format!("● {name}"),
            (640, 55 + 22 * g as i32),
            ("sans-serif", 18).into_font().color(&colours[g]),
        ))
        .map_err(|e| named(path, e))?;
    }
    root.present().map_err(|e| named(path, e))?;
    Ok(())
}

/// One epoch's values of one phase, as a run's `metrics.jsonl` holds them.
#[derive(Debug, Clone, PartialEq)]
pub struct CurvePoint {
    pub phase: String,
    pub epoch: usize,
    pub values: std::collections::BTreeMap<String, f64>,
}

/// Reads a run's `metrics.jsonl`: records `{phase, epoch, values}` and
/// flat per-epoch records (`train-rbm`, `gaussian-rbm`: every numeric
/// field but the epoch, phase "training"). Lines that are neither are
/// skipped; a missing file is no points.
pub fn read_curves(path: &Path) -> Vec<CurvePoint> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).ok()?;
            let epoch = value.get("epoch")?.as_u64()? as usize;
            let phase = value
                .get("phase")
                .and_then(|p| p.as_str())
                .unwrap_or("training")
                .to_string();
            let fields = value.get("values").unwrap_or(&value).as_object()?;
            let values = fields
                .iter()
                .filter(|(k, _)| k.as_str() != "epoch")
                .filter_map(|(k, v)| Some((k.clone(), v.as_f64()?)))
                .collect();
            Some(CurvePoint {
                phase,
                epoch,
                values,
            })
        })
        .collect()
}

/// Learning curves: every error, loss and reconstruction series of every
/// phase against the epoch, the phases one after another on the x axis
/// (a dashed line where one ends), one colour per series.
pub fn plot_learning_curves(path: &Path, title: &str, points: &[CurvePoint]) -> PlotResult {
    register_font();
    let wanted = |name: &str| {
        ["error", "loss", "reconstruction", "mse"]
            .iter()
            .any(|w| name.contains(w))
            && !name.contains("trivial")
    };
    // Position on the x axis: phases in order of appearance.
    let mut phases: Vec<String> = Vec::new();
    for p in points {
        if !phases.contains(&p.phase) {
            phases.push(p.phase.clone());
        }
    }
    let mut offsets = std::collections::HashMap::new();
    let mut start = 0usize;
    for phase in &phases {
        offsets.insert(phase.clone(), start);
        start += points
            .iter()
            .filter(|p| &p.phase == phase)
            .map(|p| p.epoch)
            .max()
            .unwrap_or(0);
    }
    let mut series: std::collections::BTreeMap<String, Vec<(f32, f32)>> = Default::default();
    for p in points {
        for (name, &value) in &p.values {
            if wanted(name) && value.is_finite() {
                let x = (offsets[&p.phase] + p.epoch) as f32;
                series
                    .entry(format!("{}: {name}", p.phase))
                    .or_default()
                    .push((x, value as f32));
            }
        }
    }
    if series.is_empty() {
        return Err(named(
            path,
            "no error, loss or reconstruction values to plot",
        ));
    }
    let all = series.values().flatten();
    let (x0, x1) = bounds(all.clone().map(|p| p.0));
    let (y0, y1) = bounds(all.map(|p| p.1));
    let root = BitMapBackend::new(path, (1100, 700)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| named(path, e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(x0.min(0.0)..x1, y0.min(0.0)..y1)
        .map_err(|e| named(path, e))?;
    chart
        .configure_mesh()
        .x_desc("epoch (phases one after another)")
        .y_desc("value")
        .draw()
        .map_err(|e| named(path, e))?;
    for (index, (name, line)) in series.iter().enumerate() {
        let colour = Palette99::pick(index).to_rgba();
        chart
            .draw_series(LineSeries::new(
                line.iter().copied(),
                colour.stroke_width(2),
            ))
            .map_err(|e| named(path, e))?
            .label(name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
            });
    }
    for phase in phases.iter().skip(1) {
        let x = offsets[phase] as f32 + 0.5;
        chart
            .draw_series(DashedLineSeries::new(
                vec![(x, y0.min(0.0)), (x, y1)],
                4,
                4,
                BLACK.mix(0.3).stroke_width(1),
            ))
            .map_err(|e| named(path, e))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font(("sans-serif", 13))
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(|e| named(path, e))?;
    root.present().map_err(|e| named(path, e))?;
    Ok(())
}

/// Draws `learning-curves.png` in a run directory from its `metrics.jsonl`.
pub fn write_learning_curves(run: &crate::run_dir::RunDir, title: &str) -> PlotResult {
    let points = read_curves(&run.file("metrics.jsonl"));
    plot_learning_curves(&run.file("learning-curves.png"), title, &points)
}

/// [`write_learning_curves`] at the end of a run, where a figure that
/// cannot be drawn is a warning through `say`, not the run's failure.
pub fn learning_curves_or_warning(
    run: &crate::run_dir::RunDir,
    title: &str,
    say: &mut dyn FnMut(&str),
) {
    if let Err(e) = write_learning_curves(run, title) {
        say(&format!("warning: learning curves not drawn: {e}"));
    }
}

const GROUP_COLOURS: [RGBColor; 3] = [
    RGBColor(30, 90, 200),
    RGBColor(210, 80, 30),
    RGBColor(40, 150, 60),
];

/// The quartiles and whiskers of `values` (sorted copy): `[min, q1,
/// median, q3, max]`, quartiles by linear interpolation.
pub fn five_numbers(values: &[f64]) -> [f64; 5] {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let at = |q: f64| {
        let x = q * (v.len() - 1) as f64;
        let (i, f) = (x.floor() as usize, x - x.floor());
        if i + 1 < v.len() {
            v[i] * (1.0 - f) + v[i + 1] * f
        } else {
            v[i]
        }
    };
    [v[0], at(0.25), at(0.5), at(0.75), v[v.len() - 1]]
}

/// Box plots: for each x category, one box per group (whiskers at the
/// minimum and maximum, the box from the first to the third quartile, a
/// line at the median) with the values as points over it. `values[c][g]`
/// are group `g`'s values at category `c`; up to three groups.
pub fn plot_boxes(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    categories: &[String],
    groups: &[&str],
    values: &[Vec<Vec<f64>>],
) -> PlotResult {
    register_font();
    let all = values.iter().flatten().flatten().map(|&v| v as f32);
    let (y0, y1) = bounds(all);
    let root = BitMapBackend::new(path, (1000, 650)).into_drawing_area();
    let mut chart = category_chart(path, &root, title, (x_label, y_label), categories, (y0, y1))?;
    let width = 0.7 / groups.len().max(1) as f32;
    for (c, per_group) in values.iter().enumerate() {
        for (g, group) in per_group.iter().enumerate() {
            if group.is_empty() {
                continue;
            }
            let colour = GROUP_COLOURS[g % GROUP_COLOURS.len()];
            let x = c as f32 - 0.35 + width * (g as f32 + 0.5);
            let half = width * 0.35;
            let [low, q1, median, q3, high] = five_numbers(group).map(|v| v as f32);
            let lines = [
                vec![(x, low), (x, q1)],
                vec![(x, q3), (x, high)],
                vec![(x - half / 2.0, low), (x + half / 2.0, low)],
                vec![(x - half / 2.0, high), (x + half / 2.0, high)],
                vec![(x - half, median), (x + half, median)],
            ];
            chart
                .draw_series(
                    lines
                        .into_iter()
                        .map(|l| PathElement::new(l, colour.stroke_width(2))),
                )
                .map_err(|e| named(path, e))?;
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(x - half, q1), (x + half, q3)],
                    colour.stroke_width(2),
                )))
                .map_err(|e| named(path, e))?;
            let count = group.len().max(1) as f32;
            chart
                .draw_series(group.iter().enumerate().map(|(k, &v)| {
                    let jitter = (k as f32 / count - 0.5) * half;
                    Circle::new((x + jitter, v as f32), 2, colour.mix(0.6).filled())
                }))
                .map_err(|e| named(path, e))?;
        }
    }
    for (g, name) in groups.iter().enumerate() {
        root.draw(&Text::new(
            format!("■ {name}"),
            (620, 55 + 22 * g as i32),
            ("sans-serif", 18)
                .into_font()
                .color(&GROUP_COLOURS[g % GROUP_COLOURS.len()]),
        ))
        .map_err(|e| named(path, e))?;
    }
    root.present().map_err(|e| named(path, e))?;
    Ok(())
}

/// One histogram panel: its title and its groups, each `(name, values)`.
pub type HistogramPanel = (String, Vec<(String, Vec<f64>)>);

/// Histograms side by side, one panel per `(title, groups)`, each group
/// `(name, values)` drawn as translucent bars over the panel's own `bins`
/// bins (a panel's range is its values').
pub fn plot_histograms(
    path: &Path,
    x_label: &str,
    panels: &[HistogramPanel],
    bins: usize,
) -> PlotResult {
    register_font();
    let bins = bins.max(1);
    let root =
        BitMapBackend::new(path, (600 * panels.len().max(1) as u32, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| named(path, e))?;
    let areas = root.split_evenly((1, panels.len().max(1)));
    for ((title, groups), area) in panels.iter().zip(&areas) {
        let all = groups.iter().flat_map(|(_, v)| v.iter()).map(|&v| v as f32);
        let (x0, x1) = bounds(all);
        let bin_width = (x1 - x0) / bins as f32;
        let count = |values: &[f64]| -> Vec<usize> {
            let mut counts = vec![0usize; bins];
            for &v in values {
                let b = (((v as f32 - x0) / bin_width) as usize).min(bins - 1);
                counts[b] += 1;
            }
            counts
        };
        let top = groups.iter().flat_map(|(_, v)| count(v)).max().unwrap_or(1) as f32;
        let mut chart = ChartBuilder::on(area)
            .caption(title, ("sans-serif", 20))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(45)
            .build_cartesian_2d(x0..x1, 0f32..top * 1.4)
            .map_err(|e| named(path, e))?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc("networks")
            .draw()
            .map_err(|e| named(path, e))?;
        for (g, (name, values)) in groups.iter().enumerate() {
            let colour = GROUP_COLOURS[g % GROUP_COLOURS.len()];
            chart
                .draw_series(
                    count(values)
                        .into_iter()
                        .enumerate()
                        .filter(|(_, c)| *c > 0)
                        .map(|(b, c)| {
                            let left = x0 + b as f32 * bin_width;
                            Rectangle::new(
                                [(left, 0.0), (left + bin_width, c as f32)],
                                colour.mix(0.45).filled(),
                            )
                        }),
                )
                .map_err(|e| named(path, e))?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour.filled())
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| named(path, e))?;
    }
    root.present().map_err(|e| named(path, e))?;
    Ok(())
}
