//! Single RBMs: training (whole fits and scikit-learn's one-update
//! `partial_fit`), log-likelihood (exact or AIS), files.

use burn::prelude::*;
use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use rbm::{AisConfig, CdTrainer, RbmConfig, SigmaConfig, TrainConfig, TrainerState, UnitKind};

use crate::convert::{
    PartsIn, RbmParts, checked_matrix, checked_vector, device, file_error, host1, host2, matrix,
    one_of, parts_of, rbm_config, rbm_of, rows_of, value_error,
};

/// The CD recipe as the Python side passes it (one tuple, built from an
/// estimator's parameters by `deepbelief._common.cd_recipe`).
#[derive(FromPyObject, Debug, Clone, Copy)]
pub struct CdRecipe {
    #[pyo3(item)]
    pub learning_rate: f64,
    #[pyo3(item)]
    pub batch_size: usize,
    #[pyo3(item)]
    pub n_iter: usize,
    #[pyo3(item)]
    pub seed: u64,
    #[pyo3(item)]
    pub k: usize,
    #[pyo3(item)]
    pub persistent: bool,
    #[pyo3(item)]
    pub momentum: f64,
    /// The momentum from epoch `momentum_switch_epoch` on (`momentum`
    /// before it; the same value for a constant momentum).
    #[pyo3(item)]
    pub final_momentum: f64,
    #[pyo3(item)]
    pub momentum_switch_epoch: usize,
    #[pyo3(item)]
    pub weight_decay: f64,
    /// `(target, cost, decay)` of the hidden units' sparsity penalty, or None.
    #[pyo3(item)]
    pub sparsity: Option<(f64, f64, f64)>,
}

impl CdRecipe {
    /// As `TrainConfig` for data of `rows` rows (the batch capped at the
    /// rows), validated.
    pub fn train_config(&self, rows: usize) -> PyResult<TrainConfig> {
        let train = TrainConfig::new()
            .with_epochs(self.n_iter)
            .with_batch_size(self.batch_size.min(rows.max(1)))
            .with_learning_rate(self.learning_rate)
            .with_k(self.k)
            .with_persistent(self.persistent)
            .with_initial_momentum(self.momentum)
            .with_final_momentum(self.final_momentum)
            .with_momentum_switch_epoch(self.momentum_switch_epoch)
            .with_weight_decay(self.weight_decay)
            .with_sparsity(
                self.sparsity
                    .map(|(target, cost, decay)| rbm::SparsityConfig {
                        target,
                        cost,
                        decay,
                    }),
            )
            .with_seed(self.seed);
        train.validate().map_err(value_error)?;
        Ok(train)
    }
}

/// The configuration JSON of an RBM of `n_visible` units of kind `visible`
/// (`"bernoulli"` or `"gaussian"`; Gaussian units with sigma fixed at
/// `sigma`, or learned from it within [sigma / 100, sigma * 100]) and
/// `n_hidden` binary units, validated.
#[pyfunction]
pub fn rbm_config_json(
    n_visible: usize,
    n_hidden: usize,
    visible: &str,
    sigma: f64,
    learn_sigma: bool,
) -> PyResult<String> {
    let config = RbmConfig::new(n_visible, n_hidden);
    let config = match visible {
        "bernoulli" => config,
        "gaussian" => config
            .with_visible_units(UnitKind::Gaussian)
            .with_visible_sigma(Some(if learn_sigma {
                SigmaConfig::learned(sigma, sigma / 100.0, sigma * 100.0)
            } else {
                SigmaConfig::fixed(sigma)
            })),
        other => {
            return Err(value_error(format!(
                "visible units: expected \"bernoulli\" or \"gaussian\", found {other:?}"
            )));
        }
    };
    config.validate().map_err(value_error)?;
    serde_json::to_string(&config).map_err(value_error)
}

/// Trains the RBM of configuration `config` (JSON, see `rbm_config_json`)
/// on the rows of `x` by `recipe` on the device named `device_name`,
/// without the GIL.
/// Returns its parts and each epoch's reconstruction error.
#[pyfunction]
pub fn fit_rbm<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f32>,
    config: &str,
    recipe: CdRecipe,
    sigma_learning_rate: Option<f64>,
    device_name: &str,
) -> PyResult<(RbmParts<'py>, Vec<f64>)> {
    let config = rbm_config(config)?;
    let device = device(device_name)?;
    let (values, rows, width) = rows_of(&x);
    let seed = recipe.seed;
    let train = recipe
        .train_config(rows)?
        .with_sigma_learning_rate(sigma_learning_rate);
    train.validate().map_err(value_error)?;
    let (rbm, errors) = py
        .detach(move || -> Result<_, rbm::RbmError> {
            let data = matrix(values, rows, width, &device);
            rbm::check_data(config.visible_units, &data, config.n_visible, "X")?;
            let mut trainer = CdTrainer::new(config.init(&device, seed), train)?;
            let epochs = trainer.fit(&data, None, |_| {})?;
            let errors = epochs.iter().map(|m| m.reconstruction_error).collect();
            Ok((trainer.into_rbm(), errors))
        })
        .map_err(value_error)?;
    Ok((parts_of(py, &rbm)?, errors))
}

/// Momentum velocities as numpy arrays: weights, visible biases, hidden biases.
type Velocity<'py> = (
    Bound<'py, PyArray2<f32>>,
    Bound<'py, PyArray1<f32>>,
    Bound<'py, PyArray1<f32>>,
);
/// What `partial_fit_rbm` hands back: the parts, the persistent chains'
/// hidden states (PCD) and the velocity.
type PartialFit<'py> = (
    RbmParts<'py>,
    Option<Bound<'py, PyArray2<f32>>>,
    Velocity<'py>,
);
type VelocityIn<'py> = (
    PyReadonlyArray2<'py, f32>,
    PyReadonlyArray1<'py, f32>,
    PyReadonlyArray1<'py, f32>,
);

/// One CD-k (or PCD-k) update with all rows of `x` as the mini-batch
/// (scikit-learn's `partial_fit`) by `recipe` (its batch size and epochs
/// unused), from `parts` (`None`: a new RBM of configuration `config`
/// drawn with the recipe's seed), the persistent chains' hidden states
/// `chains` and the momentum `velocity` of the previous call.
/// Returns the parts, the chains (PCD) and the velocity to pass next time.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn partial_fit_rbm<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f32>,
    parts: Option<PartsIn<'py>>,
    config: &str,
    chains: Option<PyReadonlyArray2<'py, f32>>,
    velocity: Option<VelocityIn<'py>>,
    recipe: CdRecipe,
    device_name: &str,
) -> PyResult<PartialFit<'py>> {
    let config = rbm_config(config)?;
    let device = device(device_name)?;
    let model = match &parts {
        Some(parts) => rbm_of(parts, &device)?,
        None => config.init(&device, recipe.seed),
    };
    let (values, rows, width) = rows_of(&x);
    let (learning_rate, momentum) = (recipe.learning_rate, recipe.momentum);
    let train = recipe.train_config(rows)?;
    let chains = chains
        .map(|c| {
            let (values, rows, width) = rows_of(&c);
            if width != model.n_hidden() {
                return Err(value_error(format!(
                    "persistent chains: expected {} hidden units, found {width}",
                    model.n_hidden()
                )));
            }
            Ok(matrix(values, rows, width, &device))
        })
        .transpose()?;
    let velocity = velocity
        .map(|(w, vb, hb)| {
            let (nv, nh) = (config.n_visible, config.n_hidden);
            Ok::<_, PyErr>(rbm::ParameterTensors {
                weight: checked_matrix(&w, [nv, nh], "weight velocity", &device)?,
                visible_bias: checked_vector(&vb, nv, "visible bias velocity", &device)?,
                hidden_bias: checked_vector(&hb, nh, "hidden bias velocity", &device)?,
            })
        })
        .transpose()?;
    let (model, state) = py
        .detach(move || -> Result<_, rbm::RbmError> {
            let data = matrix(values, rows, width, &device);
            rbm::check_data(config.visible_units, &data, config.n_visible, "X")?;
            let state = TrainerState {
                epochs_done: 0,
                velocity,
                chains,
                hidden_activity: None,
            };
            let mut trainer = CdTrainer::resume(model, train, state)?;
            trainer.step(data, learning_rate, momentum)?;
            let state = trainer.state();
            Ok((trainer.into_rbm(), state))
        })
        .map_err(value_error)?;
    let velocity = state.velocity.expect("an update sets the velocity");
    Ok((
        parts_of(py, &model)?,
        state
            .chains
            .map(|c| host2(c).map(|a| a.into_pyarray(py)))
            .transpose()?,
        (
            host2(velocity.weight)?.into_pyarray(py),
            host1(velocity.visible_bias)?.into_pyarray(py),
            host1(velocity.hidden_bias)?.into_pyarray(py),
        ),
    ))
}

/// The mean log-likelihood per row of `x` under the RBM of `parts`, in
/// nats, with log Z exact (`method = "exact"`: enumerates the smaller
/// layer) or estimated by AIS (`"ais"`: `ais_runs` runs from the base
/// model of `x`'s means over the layer `ais_side` names, `"visible"` or
/// `"hidden"`, on Salakhutdinov & Murray's 14,501 temperatures or
/// `ais_steps` + 1 equally spaced ones). Returns the log-likelihood, log Z
/// and log Z's band (log of the mean importance weight -/+ 3 standard
/// errors; both equal log Z when exact).
#[pyfunction]
#[pyo3(signature = (parts, x, method, ais_runs, ais_steps, ais_side, seed, device_name))]
#[allow(clippy::too_many_arguments)]
pub fn log_likelihood(
    py: Python<'_>,
    parts: PartsIn<'_>,
    x: PyReadonlyArray2<'_, f32>,
    method: &str,
    ais_runs: usize,
    ais_steps: Option<usize>,
    ais_side: &str,
    seed: u64,
    device_name: &str,
) -> PyResult<(f64, f64, f64, f64)> {
    let device = device(device_name)?;
    let model = rbm_of(&parts, &device)?;
    let (values, rows, width) = rows_of(&x);
    let sides = [
        ("visible", rbm::AisSide::Visible),
        ("hidden", rbm::AisSide::Hidden),
    ];
    let side = one_of("ais_side", ais_side, &sides)?;
    let ais = if one_of("method", method, &[("exact", false), ("ais", true)])? {
        let config = match ais_steps {
            Some(steps) => AisConfig::linear(ais_runs, steps, seed),
            None => AisConfig::paper(ais_runs, seed),
        };
        config.validate().map_err(value_error)?;
        Some(config)
    } else {
        None
    };
    py.detach(move || -> Result<_, rbm::RbmError> {
        let data = matrix(values, rows, width, &device);
        rbm::check_data(model.visible_units, &data, model.n_visible(), "X")?;
        let (log_z, low, high) = match ais {
            None => {
                let log_z = rbm::exact_log_partition(&model)?;
                (log_z, log_z, log_z)
            }
            Some(config) => {
                let estimate = rbm::ais_log_partition_from_data(&model, &data, side, &config)?;
                (estimate.log_z, estimate.log_z_low, estimate.log_z_high)
            }
        };
        let mean = rbm::mean_log_likelihood(&model, &data, log_z)?;
        Ok((mean, log_z, low, high))
    })
    .map_err(value_error)
}

/// Writes the RBM of `parts` to `path` as the Rust side's safetensors
/// file (what `deepbelief train-rbm` writes and `rbm::load_rbm` reads).
#[pyfunction]
pub fn save_rbm(path: std::path::PathBuf, parts: PartsIn<'_>) -> PyResult<()> {
    let device = Device::flex();
    let model = rbm_of(&parts, &device)?;
    rbm::save_rbm(&model, &rbm_config(&parts.4)?, &path).map_err(|e| file_error(&e))
}

/// The parts of the RBM in the Rust side's file `path`.
#[pyfunction]
pub fn load_rbm(py: Python<'_>, path: std::path::PathBuf) -> PyResult<RbmParts<'_>> {
    let (model, _) = rbm::load_rbm(&path, &Device::flex()).map_err(|e| file_error(&e))?;
    parts_of(py, &model)
}

/// P(h = 1 | v) of the rows of `x` computed by the Rust model in `path`
/// (the reference the Python side's `transform` is tested against).
#[pyfunction]
pub fn hidden_probabilities<'py>(
    py: Python<'py>,
    path: std::path::PathBuf,
    x: PyReadonlyArray2<'py, f32>,
) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let device = Device::flex();
    let (model, config) = rbm::load_rbm(&path, &device).map_err(value_error)?;
    let (values, rows, width) = rows_of(&x);
    let data = matrix(values, rows, width, &device);
    rbm::check_data(config.visible_units, &data, config.n_visible, "X").map_err(value_error)?;
    Ok(host2(model.hidden_given_visible(data))?.into_pyarray(py))
}
