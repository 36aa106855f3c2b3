//! The pretraining study's tables, numbers and pictures, from its
//! committed units (see [`crate::runs::study`]).

use burn::prelude::*;

use crate::output::images::write_grid;
use crate::output::plots::{Trajectory, plot_strips, plot_trajectories};
use crate::run_dir::RunDir;
use crate::runs::function_space::{
    distance, mean_pairwise_distance, mean_std, nearest_neighbour_purity, tsne_2d,
};
use crate::runs::rbm::tensor_rows;
use crate::runs::study::{StudyConfig, StudyData, Unit, load_unit, unit_name};
use crate::runs::sweep::Arm;

/// Writes `trajectories.png`, `depth.png`, `filters-before-after.png` and
/// `result.json`; returns the lines to print: the tables, then one
/// `pretrained_test_error_depth{d}=X` and `random_test_error_depth{d}=Y`
/// per depth, then `function_space_purity=Z`.
pub fn report(
    run: &RunDir,
    config: &StudyConfig,
    _data: &StudyData,
    device: &Device,
) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let mut units: Vec<Unit> = Vec::new();
    for &depth in &config.depths {
        for &seed in &config.seeds {
            for arm in Arm::BOTH {
                let name = unit_name(depth, seed, arm);
                units
                    .push(load_unit(run, &name)?.ok_or_else(|| format!("unit {name} is missing"))?);
            }
        }
    }
    let mut lines = Vec::new();
    let errors = |depth: usize, arm: Arm| -> Vec<f64> {
        units
            .iter()
            .filter(|u| u.result.depth == depth && u.result.arm == arm)
            .map(|u| u.result.test_error_percent)
            .collect()
    };

    // (c) Test error by depth and arm.
    lines.push(format!(
        "| depth | pretrained: test error, mean +- sd (n = {n}) | random init | pretrained: min-max | random: min-max |",
        n = config.seeds.len()
    ));
    lines.push("|---|---|---|---|---|".into());
    let mut summary = Vec::new();
    for &depth in &config.depths {
        let (p, r) = (errors(depth, Arm::Pretrained), errors(depth, Arm::Random));
        let ((pm, ps), (rm, rs)) = (mean_std(&p), mean_std(&r));
        let range = |v: &[f64]| {
            let low = v.iter().copied().fold(f64::INFINITY, f64::min);
            let high = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            format!("{low:.2}-{high:.2}%")
        };
        lines.push(format!(
            "| {depth} | {pm:.2} +- {ps:.2}% | {rm:.2} +- {rs:.2}% | {} | {} |",
            range(&p),
            range(&r)
        ));
        summary.push(serde_json::json!({
            "depth": depth, "pretrained_mean": pm, "pretrained_sd": ps,
            "random_mean": rm, "random_sd": rs, "pretrained": p, "random": r,
        }));
    }
    plot_strips(
        &run.file("depth.png"),
        "Test error by depth: pretrained vs random initialisation",
        "hidden layers",
        "test error (%)",
        &config
            .depths
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>(),
        ("pretrained", "random initialisation"),
        &config
            .depths
            .iter()
            .map(|&d| (errors(d, Arm::Pretrained), errors(d, Arm::Random)))
            .collect::<Vec<_>>(),
    )?;

    // (a), (b) In function space: the final networks' output vectors.
    let finals: Vec<Vec<f32>> = units
        .iter()
        .map(|u| u.trajectory.last().expect("epoch 0 at least").clone())
        .collect();
    let arms: Vec<Arm> = units.iter().map(|u| u.result.arm).collect();
    let purity = nearest_neighbour_purity(&finals, &arms);
    lines.push(String::new());
    lines.push("| depth | nearest-neighbour purity of final networks | mean distance between final networks: pretrained | random | between arms |".into());
    lines.push("|---|---|---|---|---|".into());
    let mut distances = Vec::new();
    for &depth in &config.depths {
        let index: Vec<usize> = (0..units.len())
            .filter(|&i| units[i].result.depth == depth)
            .collect();
        let points: Vec<Vec<f32>> = index.iter().map(|&i| finals[i].clone()).collect();
        let labels: Vec<Arm> = index.iter().map(|&i| arms[i]).collect();
        let depth_purity = nearest_neighbour_purity(&points, &labels);
        let of = |arm: Arm| -> Vec<&Vec<f32>> {
            index
                .iter()
                .filter(|&&i| arms[i] == arm)
                .map(|&i| &finals[i])
                .collect()
        };
        let (p, r) = (of(Arm::Pretrained), of(Arm::Random));
        let between = {
            let mut total = 0.0;
            for a in &p {
                for b in &r {
                    total += distance(a, b);
                }
            }
            total / (p.len() * r.len()) as f64
        };
        let (dp, dr) = (mean_pairwise_distance(&p), mean_pairwise_distance(&r));
        lines.push(format!(
            "| {depth} | {depth_purity:.0}% | {dp:.3} | {dr:.3} | {between:.3} |"
        ));
        distances.push(serde_json::json!({
            "depth": depth, "purity_percent": depth_purity,
            "pretrained": dp, "random": dr, "between": between,
        }));
    }

    // Relative change of each layer's weights by fine-tuning.
    lines.push(String::new());
    lines.push("| depth | arm | ||W_after - W_before|| / ||W_before||, layer 1, 2, ... (mean over seeds) |".into());
    lines.push("|---|---|---|".into());
    let mut changes = Vec::new();
    for &depth in &config.depths {
        for arm in Arm::BOTH {
            let rows: Vec<&Vec<f64>> = units
                .iter()
                .filter(|u| u.result.depth == depth && u.result.arm == arm)
                .map(|u| &u.result.relative_weight_change)
                .collect();
            let means: Vec<f64> = (0..depth)
                .map(|layer| rows.iter().map(|r| r[layer]).sum::<f64>() / rows.len() as f64)
                .collect();
            lines.push(format!(
                "| {depth} | {} | {} |",
                arm.name(),
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

    // The trajectories, embedded together.
    let points: Vec<Vec<f32>> = units.iter().flat_map(|u| u.trajectory.clone()).collect();
    let embedded = tsne_2d(&points, 30.0, 1000, 1);
    let mut at = 0;
    let trajectories: Vec<Trajectory> = units
        .iter()
        .map(|u| {
            let n = u.trajectory.len();
            let t = Trajectory {
                points: embedded[at..at + n].to_vec(),
                circle: u.result.arm == Arm::Pretrained,
            };
            at += n;
            t
        })
        .collect();
    plot_trajectories(
        &run.file("trajectories.png"),
        &format!(
            "Function-space trajectories (t-SNE of {} output vectors), depths {:?}",
            points.len(),
            config.depths
        ),
        &trajectories,
        ("pretrained", "random initialisation"),
    )?;

    // First-layer filters of one pretrained network before and after.
    let (depth, seed) = (config.depths[0], config.seeds[0]);
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
            unit_name(depth, seed, Arm::Pretrained)
        )),
        device,
    )?;
    let before = tensor_rows(stack.layers[0].weight.val().transpose().slice(0..50));
    let after = tensor_rows(tuned.hidden[0].weight.val().transpose().slice(0..50));
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
            "function_space_purity_percent": purity,
            "function_space_by_depth": distances,
            "relative_weight_change": changes,
        }),
    )?;
    lines.push(String::new());
    for &depth in &config.depths {
        lines.push(format!(
            "pretrained_test_error_depth{depth}={:.2}",
            mean_std(&errors(depth, Arm::Pretrained)).0
        ));
        lines.push(format!(
            "random_test_error_depth{depth}={:.2}",
            mean_std(&errors(depth, Arm::Random)).0
        ));
    }
    lines.push(format!("function_space_purity={purity:.1}"));
    Ok(lines)
}
