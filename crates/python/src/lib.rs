//! The native core of the Python package `deepbelief`: functions over
//! numpy arrays that train and apply the Rust models, each without the
//! GIL while it computes. The estimators (the scikit-learn conventions,
//! input checks) are the package's Python side; what arrives here is a
//! C-ordered float32 matrix, and every rule the Rust side enforces comes
//! back as a `ValueError` naming it.
//!
//! One file per role: `convert` (arrays <-> tensors and models, devices,
//! errors), `rbms` (single RBMs), `dbns` (stacks, classifiers, the
//! generative DBN).

mod convert;
mod dbns;
mod rbms;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(convert::set_flush_subnormals, m)?)?;
    m.add_function(wrap_pyfunction!(convert::subnormals_flushed, m)?)?;
    m.add_function(wrap_pyfunction!(rbms::rbm_config_json, m)?)?;
    m.add_function(wrap_pyfunction!(rbms::fit_rbm, m)?)?;
    m.add_function(wrap_pyfunction!(rbms::partial_fit_rbm, m)?)?;
    m.add_function(wrap_pyfunction!(rbms::log_likelihood, m)?)?;
    m.add_function(wrap_pyfunction!(rbms::save_rbm, m)?)?;
    m.add_function(wrap_pyfunction!(rbms::load_rbm, m)?)?;
    m.add_function(wrap_pyfunction!(rbms::hidden_probabilities, m)?)?;
    m.add_function(wrap_pyfunction!(dbns::fit_dbn, m)?)?;
    m.add_function(wrap_pyfunction!(dbns::save_stack, m)?)?;
    m.add_function(wrap_pyfunction!(dbns::load_stack, m)?)?;
    m.add_function(wrap_pyfunction!(dbns::stack_features, m)?)?;
    m.add_function(wrap_pyfunction!(dbns::fit_dbn_classifier, m)?)?;
    m.add_function(wrap_pyfunction!(dbns::save_classifier, m)?)?;
    m.add_function(wrap_pyfunction!(dbns::load_classifier, m)?)?;
    m.add_function(wrap_pyfunction!(dbns::fit_generative_dbn, m)?)?;
    m.add_function(wrap_pyfunction!(dbns::generative_predict, m)?)?;
    m.add_function(wrap_pyfunction!(dbns::generative_sample, m)?)?;
    m.add_function(wrap_pyfunction!(dbns::save_generative, m)?)?;
    m.add_function(wrap_pyfunction!(dbns::load_generative, m)?)?;
    Ok(())
}
