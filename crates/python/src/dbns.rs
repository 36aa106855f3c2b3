//! Deep belief nets: the greedy stack, the classifier fine-tuned from it,
//! the generative DBN with labels (HOT 2006), and their files.

use burn::prelude::*;
use dbn::{DbnClassifier, DropoutRates, GenerativeDbn, RbmStack};
use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use rbm::{Rbm, Sampler, TrainConfig, UnitKind};

use crate::convert::{
    Layer, LayerIn, PartsIn, RbmParts, all_parts, device, file_error, host2, layer_of, linear_of,
    matrix, one_of, parts_of, rbm_of, rows_of, value_error,
};
use crate::rbms::CdRecipe;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The greedy stack of binary RBMs of `hidden` sizes on the rows `data`
/// (values in [0, 1]), each layer by `train` on the one below's hidden
/// probabilities (Hinton & Salakhutdinov's recipe).
fn greedy_stack(
    data: &Tensor<2>,
    hidden: &[usize],
    train: &TrainConfig,
) -> Result<RbmStack, BoxError> {
    let width = data.dims()[1];
    rbm::check_data(UnitKind::Bernoulli, data, width, "X")?;
    let sizes: Vec<usize> = std::iter::once(width)
        .chain(hidden.iter().copied())
        .collect();
    let config = dbn::StackConfig::uniform(&sizes, train);
    config.validate()?;
    match dbn::pretrain(&config, data, None, None, |_| {
        std::ops::ControlFlow::Continue(())
    })? {
        dbn::PretrainOutcome::Finished(stack) => Ok(stack),
        dbn::PretrainOutcome::Stopped => Err("pretraining stopped".into()),
    }
}

/// A DBN's greedy stack (see `greedy_stack`) on `device`, without the
/// GIL: each layer's parts, bottom first.
#[pyfunction]
pub fn fit_dbn<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f32>,
    hidden: Vec<usize>,
    recipe: CdRecipe,
    device_name: &str,
) -> PyResult<Vec<RbmParts<'py>>> {
    let device = device(device_name)?;
    let (values, rows, width) = rows_of(&x);
    let train = recipe.train_config(rows)?;
    let stack = py
        .detach(move || greedy_stack(&matrix(values, rows, width, &device), &hidden, &train))
        .map_err(value_error)?;
    all_parts(py, &stack.layers)
}

/// The RBMs of `parts`, each below the next (a layer's hidden units are
/// the next one's visible units).
fn chained(parts: &[PartsIn<'_>], what: &str, device: &Device) -> PyResult<Vec<Rbm>> {
    let layers: Vec<Rbm> = parts
        .iter()
        .map(|p| rbm_of(p, device))
        .collect::<PyResult<_>>()?;
    if layers.is_empty() {
        return Err(value_error(format!("{what}: no layers")));
    }
    for (i, pair) in layers.windows(2).enumerate() {
        if pair[0].n_hidden() != pair[1].n_visible() {
            return Err(value_error(format!(
                "{what}: layer {i} has {} hidden units, layer {} has {} visible units",
                pair[0].n_hidden(),
                i + 1,
                pair[1].n_visible()
            )));
        }
    }
    Ok(layers)
}

/// Writes the stack of `layers` (parts, bottom first) to `path` as the
/// Rust side's stack file (`dbn::load_stack` reads it).
#[pyfunction]
pub fn save_stack(path: std::path::PathBuf, layers: Vec<PartsIn<'_>>) -> PyResult<()> {
    let stack = RbmStack::new(chained(&layers, "stack", &Device::flex())?);
    dbn::save_stack(&stack, &path).map_err(|e| file_error(&e))
}

/// The layers' parts of the stack in the Rust side's file `path`.
#[pyfunction]
pub fn load_stack(py: Python<'_>, path: std::path::PathBuf) -> PyResult<Vec<RbmParts<'_>>> {
    let stack = dbn::load_stack(&path, &Device::flex()).map_err(|e| file_error(&e))?;
    all_parts(py, &stack.layers)
}

/// Labels from Python as class indices below `classes`, one per row.
fn class_indices(
    y: &PyReadonlyArray1<'_, i64>,
    rows: usize,
    classes: usize,
) -> PyResult<Vec<usize>> {
    let labels = y.as_array();
    if labels.len() != rows {
        return Err(value_error(format!(
            "y has {} labels for {rows} rows of X",
            labels.len()
        )));
    }
    labels
        .iter()
        .map(|&l| {
            usize::try_from(l)
                .ok()
                .filter(|&l| l < classes)
                .ok_or_else(|| value_error(format!("label {l} is not in 0..{classes}")))
        })
        .collect()
}

/// Validation rows from Python (`None`: none): their values, how many,
/// and their class indices; at least one row, of the training rows' width.
type ValidationRows = (Vec<f32>, usize, Vec<usize>);

fn validation_rows(
    valid: Option<&(PyReadonlyArray2<'_, f32>, PyReadonlyArray1<'_, i64>)>,
    width: usize,
    classes: usize,
) -> PyResult<Option<ValidationRows>> {
    let Some((x_valid, y_valid)) = valid else {
        return Ok(None);
    };
    let (values, rows, valid_width) = rows_of(x_valid);
    if valid_width != width || rows == 0 {
        return Err(value_error(format!(
            "validation rows: {rows} of width {valid_width}, expected at least 1 of width {width}"
        )));
    }
    let labels = class_indices(y_valid, rows, classes)?;
    Ok(Some((values, rows, labels)))
}

/// Class indices as the bytes of [`dbn::LabelledImages`] (at most 256
/// classes).
fn byte_labels(labels: Vec<usize>, classes: usize) -> PyResult<Vec<u8>> {
    labels
        .into_iter()
        .map(|l| {
            u8::try_from(l).map_err(|_| value_error(format!("{classes} classes: at most 256")))
        })
        .collect()
}

/// Fine-tuning as the Python side passes it: `method` `"sgd"` (momentum
/// SGD, mini-batches in a fresh order each epoch) or
/// `"conjugate_gradient"` (Hinton & Salakhutdinov's `backpropclassify.m`:
/// `line_searches` of [`dbn::minimize`] on each fixed batch, no rate or
/// momentum); either trains the head alone for the first `head_epochs`.
/// `batch_size` `None`: the pretraining batch for SGD, H&S's 1,000 for
/// conjugate gradients. SGD's alone: an L2 `weight_decay` on every
/// parameter, the rate times `lr_decay` after each whole-net epoch (the
/// head's epochs at the first rate, as `deepbelief classify`), dropout of
/// inputs and hidden units at `input_dropout` and `hidden_dropout`
/// (Hinton et al. 2012); the Python side checks every value.
#[derive(FromPyObject, Debug, Clone)]
pub struct Finetune {
    #[pyo3(item)]
    pub epochs: usize,
    #[pyo3(item)]
    pub learning_rate: f64,
    #[pyo3(item)]
    pub momentum: f64,
    #[pyo3(item)]
    pub method: String,
    #[pyo3(item)]
    pub batch_size: Option<usize>,
    #[pyo3(item)]
    pub line_searches: usize,
    #[pyo3(item)]
    pub head_epochs: usize,
    #[pyo3(item)]
    pub weight_decay: f64,
    #[pyo3(item)]
    pub lr_decay: f64,
    #[pyo3(item)]
    pub input_dropout: f64,
    #[pyo3(item)]
    pub hidden_dropout: f64,
}

/// A fine-tuned classifier as the Python side takes it: every layer's
/// weights and biases (bottom first, the head last), each epoch's mean
/// training loss, each epoch's accuracy on the validation rows (empty
/// without them), the epoch whose net is returned (1-based; 0: the
/// pretrained net, when no epoch ran) and each final-pass epoch's mean
/// training loss (empty without one).
type Fitted<'py> = (Vec<Layer<'py>>, Vec<f64>, Vec<f64>, usize, Vec<f64>);

impl Finetune {
    /// The library's schedule of these settings: `batch_size` `None` is
    /// `sgd_batch` for SGD and H&S's 1,000 for conjugate gradients.
    fn config(
        &self,
        sgd_batch: usize,
        patience: Option<usize>,
        final_epochs: usize,
        seed: u64,
    ) -> PyResult<dbn::NetFinetuneConfig> {
        let conjugate = one_of(
            "finetune_method",
            &self.method,
            &[("sgd", false), ("conjugate_gradient", true)],
        )?;
        let method = if conjugate {
            dbn::NetMethod::ConjugateGradient {
                line_searches: self.line_searches,
            }
        } else {
            dbn::NetMethod::Sgd {
                learning_rate: self.learning_rate,
                momentum: self.momentum,
                weight_decay: self.weight_decay,
                lr_decay: self.lr_decay,
                dropout: DropoutRates {
                    input: self.input_dropout,
                    hidden: self.hidden_dropout,
                },
            }
        };
        Ok(dbn::NetFinetuneConfig {
            epochs: self.epochs,
            head_epochs: self.head_epochs,
            batch_size: self
                .batch_size
                .unwrap_or(if conjugate { 1000 } else { sgd_batch }),
            method,
            patience,
            final_epochs,
            seed,
        })
    }
}

/// A DBN classifier: the greedy stack of `hidden` sizes by `recipe` (see
/// `greedy_stack`), a softmax head over `classes`, then `finetune.epochs`
/// of fine-tuning as `finetune` says (orders and fixed batches drawn from
/// the seed) on the labels `y` (0..classes), on `device`, without the GIL.
/// With `valid` rows and labels, the net of the whole-net epoch with the
/// highest validation accuracy is returned (the earliest of equals), and
/// with `patience` training stops after that many whole-net epochs
/// without a higher one (as `deepbelief classify --patience`); without,
/// the last epoch's. With `valid`, `final_epochs` more epochs of the
/// chosen net follow on the training and validation rows together, with
/// a fresh velocity and SGD's rate going on from the chosen epoch's (as
/// `deepbelief classify --final-epochs`); a conjugate-gradient pass ends
/// early at a fixed point.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (x, y, classes, hidden, recipe, finetune, device_name, valid=None, patience=None, final_epochs=0))]
pub fn fit_dbn_classifier<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f32>,
    y: PyReadonlyArray1<'py, i64>,
    classes: usize,
    hidden: Vec<usize>,
    recipe: CdRecipe,
    finetune: Finetune,
    device_name: &str,
    valid: Option<(PyReadonlyArray2<'py, f32>, PyReadonlyArray1<'py, i64>)>,
    patience: Option<usize>,
    final_epochs: usize,
) -> PyResult<Fitted<'py>> {
    let device = device(device_name)?;
    let (values, rows, width) = rows_of(&x);
    let labels = class_indices(&y, rows, classes)?;
    let valid = validation_rows(valid.as_ref(), width, classes)?;
    let seed = recipe.seed;
    let schedule = finetune.config(recipe.batch_size, patience, final_epochs, seed)?;
    // Every rule before the pretraining.
    schedule
        .validate_for(valid.is_some())
        .map_err(value_error)?;
    let train = recipe.train_config(rows)?;
    let fitted = py
        .detach(move || {
            let data = matrix(values, rows, width, &device);
            let stack = greedy_stack(&data, &hidden, &train)?;
            let classifier = DbnClassifier::from_stack(&stack, classes, seed)?;
            let net = dbn::SgdNet::from_classifier(&classifier)?;
            let valid = valid.map(|(values, valid_rows, labels)| {
                (matrix(values, valid_rows, width, &device), labels)
            });
            let valid = valid
                .as_ref()
                .map(|(images, labels)| (images, labels.as_slice()));
            let tuned = schedule.fit(net, &data, &labels, valid)?;
            let layers: Vec<_> = tuned
                .net
                .weights
                .iter()
                .zip(&tuned.net.biases)
                .map(|(w, b)| (w.clone(), b.clone().flatten::<1>(0, 1)))
                .collect();
            Ok::<_, BoxError>((
                layers,
                tuned.losses,
                tuned.valid_accuracies,
                tuned.chosen_epoch,
                tuned.final_losses,
            ))
        })
        .map_err(value_error)?;
    let (layers, losses, scores, chosen, final_losses) = fitted;
    let layers = layers
        .into_iter()
        .map(|(w, b)| layer_of(py, w, b))
        .collect::<PyResult<_>>()?;
    Ok((layers, losses, scores, chosen, final_losses))
}

/// Writes a classifier of logistic hidden layers (weights `[inputs,
/// outputs]` and biases, bottom first, the softmax head last) to `path` as
/// the Rust side's classifier file (`dbn::load_classifier` reads it).
#[pyfunction]
pub fn save_classifier(path: std::path::PathBuf, layers: Vec<LayerIn<'_>>) -> PyResult<()> {
    let device = Device::flex();
    let Some((head, hidden)) = layers.split_last() else {
        return Err(value_error("classifier: no layers"));
    };
    let hidden: Vec<burn::nn::Linear> = hidden
        .iter()
        .enumerate()
        .map(|(i, l)| linear_of(l, &format!("hidden layer {i}"), &device))
        .collect::<PyResult<_>>()?;
    let head = linear_of(head, "head", &device)?;
    let classifier = DbnClassifier {
        hidden_units: vec![UnitKind::Bernoulli; hidden.len()],
        hidden,
        head,
        dropout: DropoutRates::NONE,
    };
    let config = classifier.config();
    config.validate().map_err(value_error)?;
    let mut inputs: Vec<usize> = classifier
        .hidden
        .iter()
        .map(|l| l.weight.dims()[0])
        .collect();
    inputs.push(classifier.head.weight.dims()[0]);
    if let Some(i) = (1..inputs.len()).find(|&i| inputs[i] != layer_outputs(&classifier, i - 1)) {
        return Err(value_error(format!(
            "classifier: layer {} has {} outputs, the next layer takes {} inputs",
            i - 1,
            layer_outputs(&classifier, i - 1),
            inputs[i]
        )));
    }
    dbn::save_classifier(&classifier, &path).map_err(|e| file_error(&e))
}

fn layer_outputs(classifier: &DbnClassifier, i: usize) -> usize {
    classifier.hidden[i].weight.dims()[1]
}

/// The layers of the classifier in the Rust side's file `path` (see
/// `save_classifier`); a classifier whose hidden units are not all
/// logistic is a `ValueError` naming them.
#[pyfunction]
pub fn load_classifier(py: Python<'_>, path: std::path::PathBuf) -> PyResult<Vec<Layer<'_>>> {
    let classifier = dbn::load_classifier(&path, &Device::flex()).map_err(|e| file_error(&e))?;
    if let Some(kind) = classifier
        .hidden_units
        .iter()
        .find(|&&k| k != UnitKind::Bernoulli)
    {
        return Err(value_error(format!(
            "{}: hidden units {kind:?}; DBNClassifier has logistic hidden units only",
            path.display()
        )));
    }
    classifier
        .hidden
        .iter()
        .chain(std::iter::once(&classifier.head))
        .map(|l| {
            let bias = l
                .bias
                .as_ref()
                .map(|b| b.val())
                .expect("the loader gives biases");
            layer_of(py, l.weight.val(), bias)
        })
        .collect()
}

/// A generative DBN as Python holds it: the recognition (up) and
/// generative (down) copies of the lower layers, bottom first, and the top
/// RBM over [features, labels].
type GenerativeParts<'py> = (Vec<RbmParts<'py>>, Vec<RbmParts<'py>>, RbmParts<'py>);
type GenerativeIn<'py> = (Vec<PartsIn<'py>>, Vec<PartsIn<'py>>, PartsIn<'py>);

fn generative_parts<'py>(py: Python<'py>, model: &GenerativeDbn) -> PyResult<GenerativeParts<'py>> {
    Ok((
        all_parts(py, &model.up)?,
        all_parts(py, &model.down)?,
        parts_of(py, &model.top)?,
    ))
}

/// The generative DBN of `parts`, its layers checked against each other.
fn generative_of(parts: &GenerativeIn<'_>, device: &Device) -> PyResult<GenerativeDbn> {
    let up = chained(&parts.0, "recognition layers", device)?;
    let down = chained(&parts.1, "generative layers", device)?;
    if let Some(i) = (0..up.len().max(down.len()))
        .find(|&i| up.get(i).map(|l| l.weight.dims()) != down.get(i).map(|l| l.weight.dims()))
    {
        return Err(value_error(format!(
            "generative DBN: recognition and generative layer {i} differ in shape"
        )));
    }
    let top = rbm_of(&parts.2, device)?;
    let features = up.last().expect("chained: not empty").n_hidden();
    let UnitKind::BinaryWithSoftmax { group } = top.visible_units else {
        return Err(value_error(
            "generative DBN: the top RBM has no softmax label group",
        ));
    };
    if top.n_visible() != features + group {
        return Err(value_error(format!(
            "generative DBN: the top RBM has {} visible units, {features} features and {group} labels need {}",
            top.n_visible(),
            features + group
        )));
    }
    Ok(GenerativeDbn { up, down, top })
}

/// Up-down's epochs, rates and top-RBM statistics (`"probabilities"` or
/// `"sampled_states"`), as the Python side passes them.
#[derive(FromPyObject, Debug, Clone)]
pub struct UpDown {
    #[pyo3(item)]
    pub epochs: usize,
    #[pyo3(item)]
    pub learning_rate: f64,
    #[pyo3(item)]
    pub momentum: f64,
    #[pyo3(item)]
    pub weight_decay: f64,
    #[pyo3(item)]
    pub top_statistics: String,
}

impl UpDown {
    fn top_statistics(&self) -> PyResult<dbn::TopStatistics> {
        use dbn::TopStatistics as S;
        let options = [
            ("probabilities", S::Probabilities),
            ("sampled_states", S::SampledStates),
        ];
        one_of("updown_top_statistics", &self.top_statistics, &options)
    }
}

/// The top RBM's persistent-CD phase, as the Python side passes it.
#[derive(FromPyObject, Debug, Clone, Copy)]
pub struct TopPcd {
    #[pyo3(item)]
    pub epochs: usize,
    #[pyo3(item)]
    pub learning_rate: f64,
    #[pyo3(item)]
    pub final_learning_rate: Option<f64>,
}

/// A rule of the top RBM's PCD phase that `top_pcd` breaks, in the
/// Python parameters' names (the rule itself is `TrainConfig::validate`'s).
fn top_pcd_error(error: rbm::ConfigError, top_pcd: &TopPcd) -> PyErr {
    match error {
        rbm::ConfigError::InvalidFinalLearningRate(last) => value_error(format!(
            "GenerativeDBN: top_pcd_final_learning_rate must be in (0, top_pcd_learning_rate {}], found {last}: the rate falls to it",
            top_pcd.learning_rate
        )),
        rbm::ConfigError::InvalidLearningRate(rate) => value_error(format!(
            "GenerativeDBN: top_pcd_learning_rate must be positive and finite, found {rate}"
        )),
        other => value_error(format!("GenerativeDBN: the top RBM's PCD phase: {other}")),
    }
}

/// HOT 2006's generative DBN on the rows of `x` (values in [0, 1]) and
/// their labels `y` (0..classes), on `device`, without the GIL: the lower
/// layers of `hidden` sizes greedily by the `lower` recipe, the top RBM of
/// `top_hidden` units over [features, softmax labels] by the `top` one
/// (its negative phase from sampled visible units, the label group one-hot,
/// when `top_sampled_reconstruction`, as HOT's; else from their means),
/// then `updown.epochs` of up-down fine-tuning by HOT's recipe
/// (class-balanced batches of 10 per class, mean-field labels, 3/6/10
/// Gibbs steps over the thirds) at its rates, then `top_pcd.epochs` of
/// the top RBM's persistent CD (`dbn::generative::greedy::top_pcd`, in
/// batches of the lower recipe's size). With `valid` rows, HOT's schedule
/// ([`dbn::GenerativeRecipe::fit_with_validation`]): the up-down epoch of
/// the lowest validation error is kept, then at most `final_phase_epochs`
/// of HOT's final phase on both sets. Returns the model's parts and, with
/// `valid`, the choice's [`ChoiceReport`].
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn fit_generative_dbn<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f32>,
    y: PyReadonlyArray1<'py, i64>,
    classes: usize,
    hidden: Vec<usize>,
    top_hidden: usize,
    lower: CdRecipe,
    top: CdRecipe,
    top_sampled_reconstruction: bool,
    updown: UpDown,
    top_pcd: TopPcd,
    device_name: &str,
    valid: Option<(PyReadonlyArray2<'py, f32>, PyReadonlyArray1<'py, i64>)>,
    final_phase_epochs: usize,
) -> PyResult<(GenerativeParts<'py>, Option<ChoiceReport>)> {
    let device = device(device_name)?;
    let (values, rows, width) = rows_of(&x);
    let labels = byte_labels(class_indices(&y, rows, classes)?, classes)?;
    let valid = validation_rows(valid.as_ref(), width, classes)?
        .map(|(values, _, labels)| {
            let labels = byte_labels(labels, classes)?;
            dbn::LabelledImages::new(values, labels, width, classes, "validation rows")
                .map_err(value_error)
        })
        .transpose()?;
    let seed = lower.seed;
    let lower = lower.train_config(rows)?;
    let top = top
        .train_config(rows)?
        .with_mean_field_reconstruction(!top_sampled_reconstruction);
    let pcd_batch = lower.batch_size;
    let sizes: Vec<usize> = std::iter::once(width)
        .chain(hidden.iter().copied())
        .collect();
    let mut recipe = dbn::GenerativeRecipe::new(&sizes, top_hidden, classes)
        .with_lower_training(lower)
        .with_top_training(top)
        .with_final_phase(final_phase_epochs);
    // Checked even when up-down is off (0 epochs), as every other parameter is.
    let top_statistics = updown.top_statistics()?;
    if updown.epochs > 0 {
        let rates = dbn::generative::greedy::UpDownRates {
            learning_rate: updown.learning_rate,
            momentum: updown.momentum,
            weight_decay: updown.weight_decay,
        };
        let mut config = dbn::generative::greedy::hot_updown(updown.epochs, classes, rates, seed);
        config.top_statistics = top_statistics;
        recipe = recipe.with_updown(config);
    }
    let phase = dbn::generative::greedy::top_pcd(
        top_pcd.epochs,
        top_pcd.learning_rate,
        top_pcd.final_learning_rate,
        seed.wrapping_add(11),
    )
    .with_batch_size(pcd_batch);
    // Its rates are checked even when the phase is off (0 epochs), as
    // every other parameter is.
    phase
        .clone()
        .with_epochs(top_pcd.epochs.max(1))
        .validate()
        .map_err(|e| top_pcd_error(e, &top_pcd))?;
    if top_pcd.epochs > 0 {
        recipe = recipe.with_top_pcd(phase);
    }
    let images =
        dbn::LabelledImages::new(values, labels, width, classes, "X").map_err(value_error)?;
    let (model, report) = py
        .detach(move || {
            match &valid {
                None => recipe.fit(&images, &device).map(|model| (model, None)),
                Some(valid) => recipe
                    .fit_with_validation(&images, valid, &device)
                    .map(|trained| {
                        let report = (
                            trained.valid_errors,
                            trained.best_epoch,
                            trained.best_train_error,
                            trained.final_train_errors,
                            trained.final_goal_met,
                        );
                        (trained.model, Some(report))
                    }),
            }
            .map_err(|e| e.to_string())
        })
        .map_err(value_error)?;
    Ok((generative_parts(py, &model)?, report))
}

/// What HOT's choice on validation showed, in percent: the validation
/// errors (the greedy model's, then each up-down epoch's), the chosen
/// epoch, its training error (the final phase's goal), the error on all
/// rows after each final-phase epoch, and whether the goal was met.
type ChoiceReport = (Vec<f64>, usize, f64, Vec<f64>, bool);

/// The label of each row of `x` under the generative DBN of `parts`: the
/// one whose top-level free energy with the row's features is lowest.
#[pyfunction]
pub fn generative_predict<'py>(
    py: Python<'py>,
    parts: GenerativeIn<'py>,
    x: PyReadonlyArray2<'py, f32>,
    device_name: &str,
) -> PyResult<Bound<'py, PyArray1<i64>>> {
    let device = device(device_name)?;
    let model = generative_of(&parts, &device)?;
    let (values, rows, width) = rows_of(&x);
    let labels = py
        .detach(move || -> Result<_, BoxError> {
            let data = matrix(values, rows, width, &device);
            rbm::check_data(UnitKind::Bernoulli, &data, model.up[0].n_visible(), "X")?;
            Ok(model
                .classify(data)
                .into_data()
                .convert::<i64>()
                .try_into_vec::<i64>()
                .map_err(|e| format!("{e:?}"))?)
        })
        .map_err(value_error)?;
    Ok(numpy::ndarray::Array1::from_vec(labels).into_pyarray(py))
}

/// Images generated by the generative DBN of `parts`: one Gibbs chain in
/// the top RBM per entry of `labels` (the label clamped; -1: free), run
/// `n_steps` steps from `start` (`"random_features"` or `"noise_image"`),
/// then one top-down pass (`down_pass`: `"mean_field"` probabilities, or
/// HOT's `"sampled"` states). Returns `[len(labels), pixels]` pixel
/// probabilities.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn generative_sample<'py>(
    py: Python<'py>,
    parts: GenerativeIn<'py>,
    labels: Vec<i64>,
    n_steps: usize,
    seed: u64,
    device_name: &str,
    start: &str,
    down_pass: &str,
) -> PyResult<Bound<'py, PyArray2<f32>>> {
    use dbn::{DownPass, SampleStart};
    let starts = [
        ("random_features", SampleStart::RandomFeatures),
        ("noise_image", SampleStart::NoiseImage),
    ];
    let start = one_of("sample: start", start, &starts)?;
    let passes = [
        ("mean_field", DownPass::MeanField),
        ("sampled", DownPass::Sampled),
    ];
    let down_pass = one_of("sample: down_pass", down_pass, &passes)?;
    let plan = dbn::SamplePlan::new(n_steps)
        .with_start(start)
        .with_down_pass(down_pass);
    let device = device(device_name)?;
    let model = generative_of(&parts, &device)?;
    let labels: Vec<Option<usize>> = labels
        .into_iter()
        .map(|l| match l {
            -1 => Ok(None),
            l => usize::try_from(l)
                .map(Some)
                .map_err(|_| value_error(format!("label {l}: expected a class index or -1"))),
        })
        .collect::<PyResult<_>>()?;
    let images = py
        .detach(move || model.sample(&labels, plan, &mut Sampler::new(seed), 0, |_, _| {}))
        .map_err(value_error)?;
    Ok(host2(images)?.into_pyarray(py))
}

/// Writes the generative DBN of `parts` to `path` as the Rust side's file
/// (what `deepbelief generative` writes, `dbn::load_generative` reads).
#[pyfunction]
pub fn save_generative(path: std::path::PathBuf, parts: GenerativeIn<'_>) -> PyResult<()> {
    let model = generative_of(&parts, &Device::flex())?;
    dbn::save_generative(&model, &path).map_err(|e| file_error(&e))
}

/// The parts of the generative DBN in the Rust side's file `path`.
#[pyfunction]
pub fn load_generative(py: Python<'_>, path: std::path::PathBuf) -> PyResult<GenerativeParts<'_>> {
    let model = dbn::load_generative(&path, &Device::flex()).map_err(|e| file_error(&e))?;
    generative_parts(py, &model)
}

/// The hidden probabilities of the rows of `x` under the stack in the
/// Rust side's file `path` (the reference for `DBN.transform`).
#[pyfunction]
pub fn stack_features<'py>(
    py: Python<'py>,
    path: std::path::PathBuf,
    x: PyReadonlyArray2<'py, f32>,
) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let device = Device::flex();
    let stack = dbn::load_stack(&path, &device).map_err(value_error)?;
    let (values, rows, width) = rows_of(&x);
    let data = matrix(values, rows, width, &device);
    Ok(host2(stack.features(data))?.into_pyarray(py))
}
