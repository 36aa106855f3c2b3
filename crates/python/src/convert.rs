//! Between numpy arrays and the Rust models: matrices in (one copy, into
//! the backend's tensor), arrays out (moved, no copy), an RBM as its
//! "parts" (weights, biases, log sigma, configuration JSON), the device by
//! name, and every Rust error as a `ValueError` (a file's I/O error as
//! the OS's error class).

use burn::module::Param;
use burn::prelude::*;
use numpy::ndarray::{Array1, Array2};
use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use rbm::{Rbm, RbmConfig};

/// A failed save or load of a model file, as Python raises it: the OS's
/// error class when an I/O error lies behind it (`FileNotFoundError`,
/// `PermissionError`, else `OSError`), a `ValueError` for a file that is
/// not the model asked for; the message names the file either way.
pub fn file_error(error: &(dyn std::error::Error + 'static)) -> PyErr {
    use pyo3::exceptions::{PyFileNotFoundError, PyOSError, PyPermissionError};
    let mut cause = Some(error);
    while let Some(current) = cause {
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            let message = error.to_string();
            return match io.kind() {
                std::io::ErrorKind::NotFound => PyFileNotFoundError::new_err(message),
                std::io::ErrorKind::PermissionDenied => PyPermissionError::new_err(message),
                _ => PyOSError::new_err(message),
            };
        }
        cause = current.source();
    }
    value_error(error)
}

/// Any error of the Rust side, as a Python `ValueError` with its message.
pub fn value_error(error: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(error.to_string())
}

/// The value that the Python string `given` of parameter `name` spells
/// among `options` (spelling, value), or a `ValueError` listing them.
pub fn one_of<T: Copy>(name: &str, given: &str, options: &[(&str, T)]) -> PyResult<T> {
    options
        .iter()
        .find(|(spelling, _)| *spelling == given)
        .map(|&(_, value)| value)
        .ok_or_else(|| {
            let spellings: Vec<String> = options.iter().map(|(s, _)| format!("{s:?}")).collect();
            value_error(format!(
                "{name} must be {}, got {given:?}",
                spellings.join(" or ")
            ))
        })
}

/// The device named `name` (`"flex"` or `"wgpu"`, as the `deepbelief`
/// command's `--device`); a backend that is missing or does not start is
/// a `ValueError` saying why.
pub fn device(name: &str) -> PyResult<Device> {
    experiments::select_device(name).map_err(value_error)
}

/// `deepbelief.set_flush_subnormals(flush)`: subnormal floats flushed to
/// zero (or kept, IEEE's default) on the calling thread and the native
/// core's worker threads, as `rbm::set_flush_subnormals`; whether this
/// CPU has the setting.
#[pyfunction]
pub fn set_flush_subnormals(flush: bool) -> bool {
    rbm::set_flush_subnormals(flush)
}

/// `deepbelief.subnormals_flushed()`: whether the calling thread flushes them.
#[pyfunction]
pub fn subnormals_flushed() -> bool {
    rbm::subnormals_flushed()
}

/// The rows of `x` as one host vector and its shape: one copy, which the
/// tensor then owns (the array may change once the GIL is released).
pub fn rows_of(x: &PyReadonlyArray2<'_, f32>) -> (Vec<f32>, usize, usize) {
    let view = x.as_array();
    let (rows, width) = view.dim();
    let values = match x.as_slice() {
        Ok(slice) => slice.to_vec(),
        Err(_) => view.iter().copied().collect(),
    };
    (values, rows, width)
}

/// A `[rows, width]` tensor owning `values` (no further copy).
pub fn matrix(values: Vec<f32>, rows: usize, width: usize, device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(values, [rows, width]), device)
}

fn vector(values: Vec<f32>, device: &Device) -> Tensor<1> {
    let len = values.len();
    Tensor::from_data(TensorData::new(values, [len]), device)
}

/// A tensor's values on the host, as a numpy-ready array.
pub fn host2(t: Tensor<2>) -> PyResult<Array2<f32>> {
    let [rows, width] = t.dims();
    let values = t
        .into_data()
        .try_into_vec::<f32>()
        .map_err(|e| value_error(format!("{e:?}")))?;
    Array2::from_shape_vec((rows, width), values).map_err(value_error)
}

pub fn host1(t: Tensor<1>) -> PyResult<Array1<f32>> {
    let values = t
        .into_data()
        .try_into_vec::<f32>()
        .map_err(|e| value_error(format!("{e:?}")))?;
    Ok(Array1::from_vec(values))
}

/// An RBM as Python sees it: weights `[n_visible, n_hidden]`, hidden
/// biases, visible biases, `log sigma` of Gaussian visible units (else
/// `None`) and its `RbmConfig` as JSON (the file's metadata).
pub type RbmParts<'py> = (
    Bound<'py, PyArray2<f32>>,
    Bound<'py, PyArray1<f32>>,
    Bound<'py, PyArray1<f32>>,
    Option<Bound<'py, PyArray1<f32>>>,
    String,
);

/// The parts of `rbm` (arrays moved to numpy).
pub fn parts_of<'py>(py: Python<'py>, rbm: &Rbm) -> PyResult<RbmParts<'py>> {
    let config = serde_json::to_string(&rbm.config(0.01)).map_err(value_error)?;
    Ok((
        host2(rbm.weight.val())?.into_pyarray(py),
        host1(rbm.hidden_bias.val())?.into_pyarray(py),
        host1(rbm.visible_bias.val())?.into_pyarray(py),
        rbm.visible_log_sigma
            .as_ref()
            .map(|l| host1(l.val()).map(|a| a.into_pyarray(py)))
            .transpose()?,
        config,
    ))
}

/// Parts coming from Python (a 5-tuple of [`RbmParts`]' kinds).
#[derive(FromPyObject)]
pub struct PartsIn<'py>(
    pub PyReadonlyArray2<'py, f32>,
    pub PyReadonlyArray1<'py, f32>,
    pub PyReadonlyArray1<'py, f32>,
    pub Option<PyReadonlyArray1<'py, f32>>,
    pub String,
);

/// The configuration in `json` (an `RbmConfig`), validated.
pub fn rbm_config(json: &str) -> PyResult<RbmConfig> {
    let config: RbmConfig =
        serde_json::from_str(json).map_err(|e| value_error(format!("RBM configuration: {e}")))?;
    config.validate().map_err(value_error)?;
    Ok(config)
}

/// `x` as a tensor if its shape is `shape` and its values are finite,
/// else a `ValueError` naming `what`.
pub fn checked_matrix(
    x: &PyReadonlyArray2<'_, f32>,
    shape: [usize; 2],
    what: &str,
    device: &Device,
) -> PyResult<Tensor<2>> {
    let (values, rows, width) = rows_of(x);
    if [rows, width] != shape {
        return Err(value_error(format!(
            "{what}: expected shape ({}, {}), found ({rows}, {width})",
            shape[0], shape[1]
        )));
    }
    if !values.iter().all(|v| v.is_finite()) {
        return Err(value_error(format!("{what}: NaN or infinite values")));
    }
    Ok(matrix(values, rows, width, device))
}

/// `x` as a tensor if it has `len` finite values, else a `ValueError`
/// naming `what`.
pub fn checked_vector(
    x: &PyReadonlyArray1<'_, f32>,
    len: usize,
    what: &str,
    device: &Device,
) -> PyResult<Tensor<1>> {
    let values = x.as_array().to_vec();
    if values.len() != len {
        return Err(value_error(format!(
            "{what}: expected shape ({len},), found ({},)",
            values.len()
        )));
    }
    if !values.iter().all(|v| v.is_finite()) {
        return Err(value_error(format!("{what}: NaN or infinite values")));
    }
    Ok(vector(values, device))
}

/// The RBM of `parts` on `device`: its configuration validated and every
/// array checked against the shape the configuration implies, by name.
pub fn rbm_of(parts: &PartsIn<'_>, device: &Device) -> PyResult<Rbm> {
    let config = rbm_config(&parts.4)?;
    let (nv, nh) = (config.n_visible, config.n_hidden);
    let mut rbm = config.init(device, 0);
    rbm.weight = Param::from_tensor(checked_matrix(&parts.0, [nv, nh], "weights", device)?);
    rbm.hidden_bias = Param::from_tensor(checked_vector(&parts.1, nh, "hidden biases", device)?);
    rbm.visible_bias = Param::from_tensor(checked_vector(&parts.2, nv, "visible biases", device)?);
    match (&rbm.visible_log_sigma, &parts.3) {
        (Some(_), Some(log_sigma)) => {
            let log_sigma = checked_vector(log_sigma, nv, "log sigma", device)?;
            rbm.visible_log_sigma = Some(Param::from_tensor(log_sigma));
        }
        (None, None) => {}
        (Some(_), None) => {
            return Err(value_error(
                "Gaussian visible units need log sigma, found None",
            ));
        }
        (None, Some(_)) => {
            return Err(value_error(
                "log sigma given for visible units that are not Gaussian",
            ));
        }
    }
    Ok(rbm)
}

/// Parts of several RBMs, moved to numpy.
pub fn all_parts<'py>(py: Python<'py>, layers: &[Rbm]) -> PyResult<Vec<RbmParts<'py>>> {
    layers.iter().map(|l| parts_of(py, l)).collect()
}

/// One dense layer's weights `[inputs, outputs]` and biases, to numpy.
pub type Layer<'py> = (Bound<'py, PyArray2<f32>>, Bound<'py, PyArray1<f32>>);

pub fn layer_of<'py>(
    py: Python<'py>,
    weights: Tensor<2>,
    biases: Tensor<1>,
) -> PyResult<Layer<'py>> {
    Ok((
        host2(weights)?.into_pyarray(py),
        host1(biases)?.into_pyarray(py),
    ))
}

/// A dense layer from Python: weights `[inputs, outputs]` and biases.
pub type LayerIn<'py> = (PyReadonlyArray2<'py, f32>, PyReadonlyArray1<'py, f32>);

/// The `burn::nn::Linear` of `layer`, its biases checked against its
/// weights (`what` names the layer in errors).
pub fn linear_of(layer: &LayerIn<'_>, what: &str, device: &Device) -> PyResult<burn::nn::Linear> {
    let [inputs, outputs] = [layer.0.as_array().dim().0, layer.0.as_array().dim().1];
    Ok(burn::nn::Linear {
        weight: Param::from_tensor(checked_matrix(&layer.0, [inputs, outputs], what, device)?),
        bias: Some(Param::from_tensor(checked_vector(
            &layer.1, outputs, what, device,
        )?)),
    })
}
