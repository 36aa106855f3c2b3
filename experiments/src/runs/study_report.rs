//! The pretraining study's tables, numbers and pictures, from its
//! committed units (see [`crate::runs::study`]): the lecture's "Effect of
//! Depth" (box plots of test error per depth and arm), "Effect of
//! Unsupervised Pre-training" (histograms at 1 and 4 hidden layers) and
//! the trajectories in function space (one t-SNE embedding per depth).

use burn::prelude::*;

use crate::output::images::write_grid;
use crate::output::plots::{Trajectory, plot_boxes, plot_histograms, plot_trajectories};
use crate::run_dir::RunDir;
use crate::runs::function_space::{
    distance, mean_pairwise_distance, mean_std, nearest_neighbour_purity, standard_error, tsne_2d,
};
use crate::runs::rbm::tensor_rows;
use crate::runs::study::{StudyArm, StudyConfig, Unit, unit_name};
use crate::runs::study_run::StudyUnits;

/// Writes `depth.png`, `histograms.png`, `trajectories-depth{d}.png`,
/// `filters-before-after.png` and `result.json`; returns the lines to
/// print: the tables, then per depth `pretrained_test_error_depth{d}=`,
/// `random_test_error_depth{d}=`, their `_sd_` lines and
/// `function_space_purity_depth{d}=`.
pub fn report(
    run: &RunDir,
    config: &StudyConfig,
    study: &StudyUnits,
    device: &Device,
) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let arms = config.arms();
    let units = |depth: usize, arm: StudyArm| -> &[Unit] {
        study
            .cells
            .get(&(depth, arm))
            .map(|(_, u)| u.as_slice())
            .unwrap_or(&[])
    };
    let errors = |depth: usize, arm: StudyArm| -> Vec<f64> {
        units(depth, arm)
            .iter()
            .map(|u| u.result.test_error_percent)
            .collect()
    };
    let mut lines = Vec::new();

    // Test error by depth and arm.
    lines.push(format!(
        "| depth | arm | test error: mean +- SE (n = {n}) | sd | min-max | rate (chosen on validation) | grid: mean validation error per rate |",
        n = config.seeds.len()
    ));
    lines.push("|---|---|---|---|---|---|---|".into());
    let mut summary = Vec::new();
    for &depth in &config.depths {
        for &arm in &arms {
            let e = errors(depth, arm);
            let (mean, sd) = mean_std(&e);
            let low = e.iter().copied().fold(f64::INFINITY, f64::min);
            let high = e.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let rate = study
                .cells
                .get(&(depth, arm))
                .map(|(r, _)| *r)
                .unwrap_or(f64::NAN);
            let grid = study.grids.get(&(depth, arm)).cloned().unwrap_or_default();
            lines.push(format!(
                "| {depth} | {} | {mean:.2} +- {:.2}% | {sd:.2} | {low:.2}-{high:.2}% | {rate} | {} |",
                arm.label(),
                standard_error(&e),
                grid.iter()
                    .map(|(r, v)| format!("{r}: {v:.2}%"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            summary.push(serde_json::json!({
                "depth": depth, "arm": arm, "rate": rate, "mean": mean, "sd": sd,
                "standard_error": standard_error(&e), "test_errors": e,
                "valid_errors": units(depth, arm).iter().map(|u| u.result.valid_error_percent).collect::<Vec<_>>(),
                "grid_mean_valid_error": grid,
            }));
        }
    }
    let labels: Vec<&str> = arms.iter().map(|a| a.label()).collect();
    plot_boxes(
        &run.file("depth.png"),
        &format!(
            "Effect of depth: test error of {} networks per box",
            config.seeds.len()
        ),
        "hidden layers",
        "test error (%)",
        &config
            .depths
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>(),
        &labels,
        &config
            .depths
            .iter()
            .map(|&d| arms.iter().map(|&a| errors(d, a)).collect())
            .collect::<Vec<_>>(),
    )?;
    // The lecture's histograms are at 1 and 4 hidden layers.
    let shown: Vec<usize> = [1, 4]
        .into_iter()
        .filter(|d| config.depths.contains(d))
        .collect();
    let shown = if shown.is_empty() {
        vec![config.depths[0]]
    } else {
        shown
    };
    plot_histograms(
        &run.file("histograms.png"),
        "test error (%)",
        &shown
            .iter()
            .map(|&d| {
                (
                    format!("{d} hidden layer{}", if d == 1 { "" } else { "s" }),
                    StudyArm::FAITHFUL
                        .iter()
                        .map(|&a| (a.label().to_string(), errors(d, a)))
                        .collect(),
                )
            })
            .collect::<Vec<_>>(),
        15,
    )?;

    // In function space, per depth: the faithful arms' final networks and
    // their trajectories, embedded together.
    lines.push(String::new());
    lines.push("| depth | nearest-neighbour purity of final networks | mean distance between final networks: pretrained | random | between arms |".into());
    lines.push("|---|---|---|---|---|".into());
    let mut by_depth = Vec::new();
    let mut purities = Vec::new();
    for &depth in &config.depths {
        let (p, r) = (
            units(depth, StudyArm::Pretrained),
            units(depth, StudyArm::Random),
        );
        let finals = |u: &[Unit]| -> Vec<Vec<f32>> {
            u.iter()
                .map(|u| u.trajectory.last().expect("epoch 0 at least").clone())
                .collect()
        };
        let (fp, fr) = (finals(p), finals(r));
        let points: Vec<Vec<f32>> = fp.iter().chain(&fr).cloned().collect();
        let tags: Vec<bool> = (0..points.len()).map(|i| i < fp.len()).collect();
        let purity = nearest_neighbour_purity(&points, &tags);
        let between = {
            let mut total = 0.0;
            for a in &fp {
                for b in &fr {
                    total += distance(a, b);
                }
            }
            total / (fp.len() * fr.len()).max(1) as f64
        };
        let (dp, dr) = (
            mean_pairwise_distance(&fp.iter().collect::<Vec<_>>()),
            mean_pairwise_distance(&fr.iter().collect::<Vec<_>>()),
        );
        lines.push(format!(
            "| {depth} | {purity:.0}% | {dp:.3} | {dr:.3} | {between:.3} |"
        ));
        by_depth.push(serde_json::json!({
            "depth": depth, "purity_percent": purity,
            "pretrained": dp, "random": dr, "between": between,
        }));
        purities.push((depth, purity));
        let all: Vec<&Unit> = p.iter().chain(r).collect();
        let points: Vec<Vec<f32>> = all.iter().flat_map(|u| u.trajectory.clone()).collect();
        let embedded = tsne_2d(&points, 30.0, 1000, 1);
        let mut at = 0;
        let trajectories: Vec<Trajectory> = all
            .iter()
            .map(|u| {
                let n = u.trajectory.len();
                let t = Trajectory {
                    points: embedded[at..at + n].to_vec(),
                    circle: u.result.arm == StudyArm::Pretrained,
                };
                at += n;
                t
            })
            .collect();
        plot_trajectories(
            &run.file(&format!("trajectories-depth{depth}.png")),
            &format!(
                "{depth} hidden layer(s): {} networks in function space (t-SNE of {} output vectors)",
                all.len(),
                points.len()
            ),
            &trajectories,
            (StudyArm::Pretrained.label(), StudyArm::Random.label()),
        )?;
    }

    // Relative change of each layer's weights by fine-tuning.
    lines.push(String::new());
    lines.push("| depth | arm | ||W_after - W_before|| / ||W_before||, layer 1, 2, ... (mean over seeds) |".into());
    lines.push("|---|---|---|".into());
    let mut changes = Vec::new();
    for &depth in &config.depths {
        for &arm in &arms {
            let rows: Vec<&Vec<f64>> = units(depth, arm)
                .iter()
                .map(|u| &u.result.relative_weight_change)
                .collect();
            let means: Vec<f64> = (0..depth)
                .map(|layer| rows.iter().map(|r| r[layer]).sum::<f64>() / rows.len().max(1) as f64)
                .collect();
            lines.push(format!(
                "| {depth} | {} | {} |",
                arm.label(),
                means
                    .iter()
                    .map(|m| format!("{m:.3}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            changes.push(
                serde_json::json!({ "depth": depth, "arm": arm, "mean_relative_change": means }),
            );
        }
    }

    // First-layer filters of one pretrained network before and after.
    let (depth, seed) = (config.depths[0], config.seeds[0]);
    let rate = study
        .cells
        .get(&(depth, StudyArm::Pretrained))
        .map(|(r, _)| *r)
        .ok_or("no pretrained cell")?;
    let stack = dbn::load_stack(
        &run.file(&format!(
            "stacks/seed-{seed}/{}",
            crate::runs::pretrain::PRETRAINED_FILE
        )),
        device,
    )?;
    let tuned = dbn::load_classifier(
        &run.file(&format!(
            "units/{}-model.safetensors",
            unit_name(depth, seed, StudyArm::Pretrained, rate)
        )),
        device,
    )?;
    let shown = 50.min(config.width);
    let before = tensor_rows(stack.layers[0].weight.val().transpose().slice(0..shown));
    let after = tensor_rows(tuned.hidden[0].weight.val().transpose().slice(0..shown));
    let pairs: Vec<Vec<f32>> = before
        .into_iter()
        .zip(after)
        .flat_map(|(b, a)| [b, a])
        .collect();
    write_grid(
        &run.file("filters-before-after.png"),
        &pairs,
        config.data.height,
        config.data.width,
        10,
        true,
    )?;

    run.write_json(
        "result.json",
        &serde_json::json!({
            "test_error_by_depth": summary,
            "function_space_by_depth": by_depth,
            "relative_weight_change": changes,
        }),
    )?;
    lines.push(String::new());
    for &depth in &config.depths {
        for &arm in &arms {
            let (mean, sd) = mean_std(&errors(depth, arm));
            lines.push(format!("{}_test_error_depth{depth}={mean:.2}", arm.name()));
            lines.push(format!("{}_sd_depth{depth}={sd:.2}", arm.name()));
            lines.push(format!(
                "{}_se_depth{depth}={:.2}",
                arm.name(),
                standard_error(&errors(depth, arm))
            ));
        }
    }
    for (depth, purity) in purities {
        lines.push(format!("function_space_purity_depth{depth}={purity:.1}"));
    }
    Ok(lines)
}
