//! The native core of the Python package `deepbelief`: functions over
//! numpy arrays that train and apply the Rust models. The estimators (the
//! scikit-learn conventions, input checks) are the package's Python side;
//! what arrives here is already a checked, C-ordered float32 matrix, and
//! every rule the Rust side enforces comes back as a `ValueError` naming it.

use burn::prelude::*;
use numpy::ndarray::{Array1, Array2};
use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use rbm::{CdTrainer, RbmConfig, TrainConfig};

/// The parameters of a trained binary RBM: weights `[n_visible,
/// n_hidden]`, hidden biases, visible biases.
type RbmArrays<'py> = (
    Bound<'py, PyArray2<f32>>,
    Bound<'py, PyArray1<f32>>,
    Bound<'py, PyArray1<f32>>,
);

/// Any error of the Rust side, as a Python `ValueError` with its message.
fn value_error(error: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(error.to_string())
}

/// The rows of `x` as one host vector (a copy only if `x` is not C-ordered).
fn rows_of(x: &PyReadonlyArray2<'_, f32>) -> (Vec<f32>, usize, usize) {
    let view = x.as_array();
    let (rows, width) = view.dim();
    let values = match x.as_slice() {
        Ok(slice) => slice.to_vec(),
        Err(_) => view.iter().copied().collect(),
    };
    (values, rows, width)
}

fn host(t: Tensor<2>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().expect("f32 tensors")
}

fn host1(t: Tensor<1>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().expect("f32 tensors")
}

/// The CD recipe every trainer here takes, as `TrainConfig` (the batch
/// capped at the rows), validated.
#[allow(clippy::too_many_arguments)]
fn cd_recipe(
    rows: usize,
    learning_rate: f64,
    batch_size: usize,
    n_iter: usize,
    seed: u64,
    k: usize,
    persistent: bool,
    momentum: f64,
    weight_decay: f64,
) -> PyResult<TrainConfig> {
    let train = TrainConfig::new()
        .with_epochs(n_iter)
        .with_batch_size(batch_size.min(rows.max(1)))
        .with_learning_rate(learning_rate)
        .with_k(k)
        .with_persistent(persistent)
        .with_initial_momentum(momentum)
        .with_final_momentum(momentum)
        .with_weight_decay(weight_decay)
        .with_seed(seed);
    train.validate().map_err(value_error)?;
    Ok(train)
}

/// Trains `rbm_config` on the rows `values` by `train`, without the GIL;
/// returns its weights, hidden biases, visible biases and (Gaussian
/// visible units) sigmas as numpy arrays.
fn train_rbm<'py>(
    py: Python<'py>,
    values: Vec<f32>,
    rbm_config: RbmConfig,
    train: TrainConfig,
) -> PyResult<(RbmArrays<'py>, Option<Bound<'py, PyArray1<f32>>>)> {
    rbm_config.validate().map_err(value_error)?;
    let (width, n_hidden, seed) = (rbm_config.n_visible, rbm_config.n_hidden, train.seed);
    let (weights, hidden, visible, sigmas) = py
        .detach(move || -> Result<_, rbm::RbmError> {
            let device = Device::flex();
            let data = rbm::tensor_from_rows(&values, width, &device);
            rbm::check_data(rbm_config.visible_units, &data, width, "X")?;
            let mut trainer = CdTrainer::new(rbm_config.init(&device, seed), train)?;
            trainer.fit(&data, None, |_| {})?;
            let model = trainer.rbm();
            Ok((
                host(model.weight.val()),
                host1(model.hidden_bias.val()),
                host1(model.visible_bias.val()),
                model.visible_sigma().map(host1),
            ))
        })
        .map_err(value_error)?;
    let weights = Array2::from_shape_vec((width, n_hidden), weights).map_err(value_error)?;
    Ok((
        (
            weights.into_pyarray(py),
            Array1::from_vec(hidden).into_pyarray(py),
            Array1::from_vec(visible).into_pyarray(py),
        ),
        sigmas.map(|s| Array1::from_vec(s).into_pyarray(py)),
    ))
}

/// Trains a binary RBM of `n_components` hidden units on the rows of `x`
/// (values in [0, 1]) by CD-k or PCD-k on the Flex CPU backend, without the
/// GIL; returns its weights, hidden biases and visible biases.
#[pyfunction]
#[pyo3(signature = (x, n_components, learning_rate, batch_size, n_iter, seed, k, persistent, momentum, weight_decay))]
#[allow(clippy::too_many_arguments)]
fn fit_bernoulli_rbm<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f32>,
    n_components: usize,
    learning_rate: f64,
    batch_size: usize,
    n_iter: usize,
    seed: u64,
    k: usize,
    persistent: bool,
    momentum: f64,
    weight_decay: f64,
) -> PyResult<RbmArrays<'py>> {
    let (values, rows, width) = rows_of(&x);
    let train = cd_recipe(
        rows,
        learning_rate,
        batch_size,
        n_iter,
        seed,
        k,
        persistent,
        momentum,
        weight_decay,
    )?;
    Ok(train_rbm(py, values, RbmConfig::new(width, n_components), train)?.0)
}

/// Writes a binary RBM of these parameters (weights `[n_visible,
/// n_hidden]`) to `path` as the Rust side's safetensors file.
#[pyfunction]
fn save_bernoulli_rbm(
    path: std::path::PathBuf,
    weights: PyReadonlyArray2<'_, f32>,
    hidden_bias: numpy::PyReadonlyArray1<'_, f32>,
    visible_bias: numpy::PyReadonlyArray1<'_, f32>,
) -> PyResult<()> {
    let (w, n_visible, n_hidden) = rows_of(&weights);
    let (hb, vb) = (
        hidden_bias.as_array().to_vec(),
        visible_bias.as_array().to_vec(),
    );
    if hb.len() != n_hidden || vb.len() != n_visible {
        return Err(PyValueError::new_err(format!(
            "save: {n_visible}x{n_hidden} weights need {n_hidden} hidden and {n_visible} visible biases, \
             found {} and {}",
            hb.len(),
            vb.len()
        )));
    }
    let device = Device::flex();
    let config = RbmConfig::new(n_visible, n_hidden);
    config.validate().map_err(value_error)?;
    let mut model = config.init(&device, 0);
    model.weight = model
        .weight
        .map(|_| Tensor::from_data(TensorData::new(w, [n_visible, n_hidden]), &device));
    model.hidden_bias = model
        .hidden_bias
        .map(|_| Tensor::from_data(TensorData::new(hb, [n_hidden]), &device));
    model.visible_bias = model
        .visible_bias
        .map(|_| Tensor::from_data(TensorData::new(vb, [n_visible]), &device));
    rbm::save_rbm(&model, &config, &path).map_err(value_error)
}

/// The binary RBM in the Rust side's file `path`: its weights, hidden and
/// visible biases. Another kind of RBM is a `ValueError` naming it.
#[pyfunction]
fn load_bernoulli_rbm<'py>(py: Python<'py>, path: std::path::PathBuf) -> PyResult<RbmArrays<'py>> {
    let (model, config) = rbm::load_rbm(&path, &Device::flex()).map_err(value_error)?;
    if config.visible_units != rbm::UnitKind::Bernoulli
        || config.hidden_units != rbm::UnitKind::Bernoulli
    {
        return Err(PyValueError::new_err(format!(
            "{}: not a binary RBM (visible units {:?}, hidden units {:?})",
            path.display(),
            config.visible_units,
            config.hidden_units
        )));
    }
    let weights = Array2::from_shape_vec(
        (config.n_visible, config.n_hidden),
        host(model.weight.val()),
    )
    .map_err(value_error)?;
    Ok((
        weights.into_pyarray(py),
        Array1::from_vec(host1(model.hidden_bias.val())).into_pyarray(py),
        Array1::from_vec(host1(model.visible_bias.val())).into_pyarray(py),
    ))
}

/// P(h = 1 | v) of the rows of `x` computed by the Rust model in `path`
/// (the reference the Python side's `transform` is tested against).
#[pyfunction]
fn hidden_probabilities<'py>(
    py: Python<'py>,
    path: std::path::PathBuf,
    x: PyReadonlyArray2<'py, f32>,
) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let device = Device::flex();
    let (model, config) = rbm::load_rbm(&path, &device).map_err(value_error)?;
    let (values, rows, width) = rows_of(&x);
    let data = rbm::tensor_from_rows(&values, width, &device);
    rbm::check_data(config.visible_units, &data, config.n_visible, "X").map_err(value_error)?;
    let hidden = host(model.hidden_given_visible(data));
    let out = Array2::from_shape_vec((rows, config.n_hidden), hidden).map_err(value_error)?;
    Ok(out.into_pyarray(py))
}

/// Trains an RBM of Gaussian visible units (sigma fixed at `sigma`, or
/// learned from it within [sigma / 100, sigma * 100] at rate `sigma_rate`)
/// and `n_components` binary hidden units on the rows of `x`, without the
/// GIL; returns its weights `[n_visible, n_hidden]`, hidden biases, visible
/// biases and per-pixel sigmas.
#[pyfunction]
#[pyo3(signature = (x, n_components, learning_rate, batch_size, n_iter, seed, k, persistent, momentum, weight_decay, sigma, learn_sigma, sigma_rate))]
#[allow(clippy::too_many_arguments)]
fn fit_gaussian_rbm<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f32>,
    n_components: usize,
    learning_rate: f64,
    batch_size: usize,
    n_iter: usize,
    seed: u64,
    k: usize,
    persistent: bool,
    momentum: f64,
    weight_decay: f64,
    sigma: f64,
    learn_sigma: bool,
    sigma_rate: f64,
) -> PyResult<(RbmArrays<'py>, Bound<'py, PyArray1<f32>>)> {
    let (values, rows, width) = rows_of(&x);
    let sigma_config = if learn_sigma {
        rbm::SigmaConfig::learned(sigma, sigma / 100.0, sigma * 100.0)
    } else {
        rbm::SigmaConfig::fixed(sigma)
    };
    let rbm_config = RbmConfig::new(width, n_components)
        .with_visible_units(rbm::UnitKind::Gaussian)
        .with_visible_sigma(Some(sigma_config));
    let train = cd_recipe(
        rows,
        learning_rate,
        batch_size,
        n_iter,
        seed,
        k,
        persistent,
        momentum,
        weight_decay,
    )?
    .with_sigma_learning_rate(learn_sigma.then_some(sigma_rate));
    train.validate().map_err(value_error)?;
    let (arrays, sigmas) = train_rbm(py, values, rbm_config, train)?;
    Ok((arrays, sigmas.expect("Gaussian units have a sigma")))
}

/// One layer's weights `[inputs, outputs]` and biases, as numpy arrays.
type Layer<'py> = (Bound<'py, PyArray2<f32>>, Bound<'py, PyArray1<f32>>);

fn layer<'py>(py: Python<'py>, weights: Tensor<2>, biases: Vec<f32>) -> PyResult<Layer<'py>> {
    let [inputs, outputs] = weights.dims();
    let weights = Array2::from_shape_vec((inputs, outputs), host(weights)).map_err(value_error)?;
    Ok((
        weights.into_pyarray(py),
        Array1::from_vec(biases).into_pyarray(py),
    ))
}

/// The greedy stack of binary RBMs of `hidden` sizes on the rows of `x`
/// (values in [0, 1]), each layer by CD-k on the one below's hidden
/// probabilities (Hinton & Salakhutdinov's recipe, with `train`'s rates).
fn greedy_stack(
    values: Vec<f32>,
    width: usize,
    hidden: &[usize],
    train: TrainConfig,
) -> Result<(dbn::RbmStack, Tensor<2>), Box<dyn std::error::Error + Send + Sync>> {
    let device = Device::flex();
    let data = rbm::tensor_from_rows(&values, width, &device);
    rbm::check_data(rbm::UnitKind::Bernoulli, &data, width, "X").map_err(|e| e.to_string())?;
    let sizes: Vec<usize> = std::iter::once(width)
        .chain(hidden.iter().copied())
        .collect();
    let config = dbn::StackConfig::uniform(&sizes, &train);
    config.validate().map_err(|e| e.to_string())?;
    match dbn::pretrain(&config, &data, None, None, |_| {
        std::ops::ControlFlow::Continue(())
    })
    .map_err(|e| e.to_string())?
    {
        dbn::PretrainOutcome::Finished(stack) => Ok((stack, data)),
        dbn::PretrainOutcome::Stopped => Err("pretraining stopped".into()),
    }
}

/// A DBN's greedy stack (see `greedy_stack`), without the GIL: each
/// layer's weights `[inputs, outputs]` and hidden biases, bottom first.
#[pyfunction]
#[pyo3(signature = (x, hidden, learning_rate, batch_size, n_iter, seed, k, momentum, weight_decay))]
#[allow(clippy::too_many_arguments)]
fn fit_dbn<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f32>,
    hidden: Vec<usize>,
    learning_rate: f64,
    batch_size: usize,
    n_iter: usize,
    seed: u64,
    k: usize,
    momentum: f64,
    weight_decay: f64,
) -> PyResult<Vec<Layer<'py>>> {
    let (values, rows, width) = rows_of(&x);
    let train = cd_recipe(
        rows,
        learning_rate,
        batch_size,
        n_iter,
        seed,
        k,
        false,
        momentum,
        weight_decay,
    )?;
    let layers = py
        .detach(move || {
            let (stack, _) = greedy_stack(values, width, &hidden, train)?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(
                stack
                    .layers
                    .iter()
                    .map(|l| (l.weight.val(), host1(l.hidden_bias.val())))
                    .collect::<Vec<_>>(),
            )
        })
        .map_err(value_error)?;
    layers.into_iter().map(|(w, b)| layer(py, w, b)).collect()
}

/// A DBN classifier: the greedy stack of `hidden` sizes (see
/// `greedy_stack`), a softmax head over `classes`, then `epochs` of
/// fine-tuning by SGD with momentum (mini-batches of `batch_size`, orders
/// drawn from the seed and the epoch) on the labels `y` (0..classes),
/// without the GIL. Returns every layer's weights `[inputs, outputs]` and
/// biases, bottom first, the head last.
#[pyfunction]
#[pyo3(signature = (x, y, classes, hidden, learning_rate, batch_size, n_iter, seed, k, momentum, weight_decay, finetune_epochs, finetune_learning_rate, finetune_momentum))]
#[allow(clippy::too_many_arguments)]
fn fit_dbn_classifier<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f32>,
    y: numpy::PyReadonlyArray1<'py, i64>,
    classes: usize,
    hidden: Vec<usize>,
    learning_rate: f64,
    batch_size: usize,
    n_iter: usize,
    seed: u64,
    k: usize,
    momentum: f64,
    weight_decay: f64,
    finetune_epochs: usize,
    finetune_learning_rate: f64,
    finetune_momentum: f64,
) -> PyResult<Vec<Layer<'py>>> {
    let (values, rows, width) = rows_of(&x);
    let labels: Vec<usize> = y.as_array().iter().map(|&l| l as usize).collect();
    if labels.len() != rows {
        return Err(PyValueError::new_err(format!(
            "y has {} labels for {rows} rows of X",
            labels.len()
        )));
    }
    if let Some(bad) = labels.iter().find(|&&l| l >= classes) {
        return Err(PyValueError::new_err(format!(
            "label {bad} is not below the {classes} classes"
        )));
    }
    let train = cd_recipe(
        rows,
        learning_rate,
        batch_size,
        n_iter,
        seed,
        k,
        false,
        momentum,
        weight_decay,
    )?;
    let layers = py
        .detach(move || {
            let (stack, data) = greedy_stack(values, width, &hidden, train)?;
            let device = data.device();
            let classifier =
                dbn::DbnClassifier::from_stack(&stack, classes, seed).map_err(|e| e.to_string())?;
            let mut net = dbn::SgdNet::from_classifier(&classifier).map_err(|e| e.to_string())?;
            let one_hot = dbn::one_hot_rows(&labels, classes, &device).map_err(|e| e.to_string())?;
            let step = dbn::SgdStep {
                rate: finetune_learning_rate,
                momentum: finetune_momentum,
            };
            for epoch in 1..=finetune_epochs {
                let order = dbn::epoch_order(seed, epoch, rows);
                let loss = net.epoch(&data, &one_hot, &order, batch_size.min(rows), step);
                if !loss.is_finite() {
                    return Err(format!(
                        "fine-tuning diverged in epoch {epoch} (training loss {loss}): lower finetune_learning_rate"
                    )
                    .into());
                }
            }
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(
                net.weights
                    .iter()
                    .zip(&net.biases)
                    .map(|(w, b)| (w.clone(), host(b.clone())))
                    .collect::<Vec<_>>(),
            )
        })
        .map_err(value_error)?;
    layers.into_iter().map(|(w, b)| layer(py, w, b)).collect()
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(fit_dbn, m)?)?;
    m.add_function(wrap_pyfunction!(fit_dbn_classifier, m)?)?;
    m.add_function(wrap_pyfunction!(fit_gaussian_rbm, m)?)?;
    m.add_function(wrap_pyfunction!(fit_bernoulli_rbm, m)?)?;
    m.add_function(wrap_pyfunction!(save_bernoulli_rbm, m)?)?;
    m.add_function(wrap_pyfunction!(load_bernoulli_rbm, m)?)?;
    m.add_function(wrap_pyfunction!(hidden_probabilities, m)?)?;
    Ok(())
}
