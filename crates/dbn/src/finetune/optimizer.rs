//! Burn's SGD with classical momentum and weight decay, with the update
//! fused into one pass on host backends ([`rbm::fused_update::momentum_descent`];
//! under Burn's `Learner`, which keeps the model it hands the optimizer,
//! the shared parameter is read in place by [`rbm::host_ops`]).
//!
//! Burn's `Sgd` spends five to seven tensor ops per parameter on an
//! update (measured ~13% of a fine-tuning epoch of 784-500-500-2000-10 on
//! Flex); this optimizer computes the same values and records its state
//! under the same names, so checkpoints of either load into the other.

use burn::optim::{LearningRate, Optimizer, RecordState, StateSink, StateSource, join_path};
use burn::prelude::*;

use crate::finetune::config::DecayScope;

/// SGD: `gradient += weight_decay * parameter` (for the parameters
/// `decay_scope` reaches), `velocity = momentum * velocity + gradient`,
/// `parameter -= learning_rate * velocity` (no dampening, no Nesterov).
#[derive(Debug, Clone, Copy)]
pub struct MomentumSgd {
    /// Momentum coefficient, in [0, 1).
    pub momentum: f32,
    /// L2 penalty added to the gradient, if any.
    pub weight_decay: Option<f32>,
    /// The parameters the penalty reaches, told apart by rank.
    pub decay_scope: DecayScope,
}

/// The state of one parameter: its momentum velocity, recorded under
/// Burn's `SgdState` name (`PREFIX.momentum.velocity`).
#[derive(Clone)]
pub struct MomentumSgdState<const D: usize> {
    velocity: Tensor<D>,
}

/// The record path of the velocity below a parameter's prefix.
const VELOCITY_PATH: (&str, &str) = ("momentum", "velocity");

impl<const D: usize> RecordState for MomentumSgdState<D> {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        out.push_tensor(
            &join_path(prefix, VELOCITY_PATH.0),
            VELOCITY_PATH.1,
            self.velocity.to_data(),
        );
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, device: &Device) -> Option<Self> {
        let data = src.take_tensor(&join_path(prefix, VELOCITY_PATH.0), VELOCITY_PATH.1)?;
        Some(Self {
            velocity: Tensor::from_data(data, device),
        })
    }
}

impl Optimizer for MomentumSgd {
    type State<const D: usize> = MomentumSgdState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let velocity = state.map(|s| s.velocity);
        let weight_decay = self.weight_decay.filter(|_| self.decay_scope.reaches(D));
        let (tensor, velocity) = rbm::fused_update::momentum_descent(
            tensor,
            velocity,
            grad,
            lr,
            self.momentum,
            weight_decay,
        );
        (tensor, Some(MomentumSgdState { velocity }))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        MomentumSgdState {
            velocity: state.velocity.to_device(device),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::decay::WeightDecayConfig;
    use burn::optim::momentum::MomentumConfig;
    use burn::optim::{GradientsParams, ModuleOptimizer, SgdConfig};
    use burn::tensor::Distribution;

    fn values(tensor: Tensor<2>) -> Vec<f32> {
        tensor.try_into_vec_as::<f32>().expect("f32")
    }

    /// The layer's weights as bits, to compare for bit-identity.
    fn weight_bits(layer: &Linear) -> Vec<u32> {
        values(layer.weight.val())
            .into_iter()
            .map(f32::to_bits)
            .collect()
    }

    /// Three steps of Burn's `Sgd` (momentum 0.9, no dampening, decay
    /// 1e-5) and of `MomentumSgd` on the same layer and data give the same
    /// bits, and each step changes the weights.
    #[test]
    fn matches_burns_sgd_bit_for_bit() {
        let _generator = crate::tests::device_generator();
        let device = Device::flex().autodiff();
        device.seed(3);
        let start = LinearConfig::new(600, 500).init(&device);
        let inputs = Tensor::<2>::random([20, 600], Distribution::Normal(0.0, 1.0), &device);
        let mut burn_sgd: ModuleOptimizer = SgdConfig::new()
            .with_momentum(Some(
                MomentumConfig::new().with_momentum(0.9).with_dampening(0.0),
            ))
            .with_weight_decay(Some(WeightDecayConfig::new(1e-5)))
            .init();
        let mut fused = ModuleOptimizer::from(MomentumSgd {
            momentum: 0.9,
            weight_decay: Some(1e-5),
            decay_scope: DecayScope::All,
        });
        let (mut a, mut b) = (start.clone(), start.clone());
        for _ in 0..3 {
            let before = weight_bits(&a);
            let loss_a = a.forward(inputs.clone()).tanh().sum();
            let grads_a = GradientsParams::from_grads(loss_a.backward(), &a);
            a = burn_sgd.step(0.1, a, grads_a);
            let loss_b = b.forward(inputs.clone()).tanh().sum();
            let grads_b = GradientsParams::from_grads(loss_b.backward(), &b);
            b = fused.step(0.1, b, grads_b);
            assert_eq!(weight_bits(&a), weight_bits(&b));
            assert_ne!(weight_bits(&a), before);
        }
    }

    /// One step of `config`'s optimizer on `layer` under a zero data
    /// gradient, where only the weight cost can move a parameter.
    fn step_on_zero_gradient(config: &crate::FinetuneConfig, layer: Linear) -> Linear {
        let device = layer.weight.device();
        let inputs = Tensor::<2>::ones([4, 30], &device);
        let loss = layer.forward(inputs).sum().mul_scalar(0.0);
        let grads = GradientsParams::from_grads(loss.backward(), &layer);
        config.optimizer().step(config.learning_rate, layer, grads)
    }

    /// A first step under a zero data gradient moves each weight to
    /// `w - (w * decay) * rate`, within one unit in the last place (Burn's
    /// `Sgd`, which runs momentum 0 with the cost on all, orders the same
    /// operations its own way); with the cost on the weights only it
    /// leaves every bias bit for bit, with and without momentum, and with
    /// the cost on all parameters every (non-zero) bias shrinks.
    #[test]
    fn weights_only_cost_leaves_the_biases_alone() {
        let _generator = crate::tests::device_generator();
        use crate::finetune::config::DecayScope;
        let device = Device::flex().autodiff();
        device.seed(5);
        let layer = LinearConfig::new(30, 20).init(&device);
        let bias = || layer.bias.as_ref().expect("bias").val().unsqueeze::<2>();
        let (weights_before, bias_before) = (values(layer.weight.val()), values(bias()));
        assert!(bias_before.iter().all(|b| *b != 0.0), "biases to decay");
        let (rate, decay) = (0.1f32, 0.01f32);
        for momentum in [0.0, 0.9] {
            for scope in [DecayScope::Weights, DecayScope::All] {
                let config = crate::FinetuneConfig {
                    learning_rate: rate as f64,
                    momentum,
                    weight_decay: decay as f64,
                    weight_decay_scope: scope,
                    ..Default::default()
                };
                let stepped = step_on_zero_gradient(&config, layer.clone());
                let weights = values(stepped.weight.val());
                let biases = values(stepped.bias.expect("bias").val().unsqueeze::<2>());
                for (after, before) in weights.iter().zip(&weights_before) {
                    let expected = before - (before * decay) * rate;
                    assert!(
                        (after - expected).abs() <= f32::EPSILON * before.abs(),
                        "{scope:?} momentum {momentum}: weight {before} -> {after}, expected {expected}"
                    );
                }
                for (after, before) in biases.iter().zip(&bias_before) {
                    match scope {
                        DecayScope::Weights => assert_eq!(after.to_bits(), before.to_bits()),
                        DecayScope::All => assert!(after.abs() < before.abs()),
                    }
                }
            }
        }
    }

    /// The velocity is recorded under Burn's `SgdState` path, so a state
    /// written by either optimizer loads into the other.
    #[test]
    fn records_its_state_under_burns_sgd_names() {
        use burn::optim::SgdState;
        use burn::optim::momentum::MomentumState;
        let device = Device::flex();
        let velocity = Tensor::<2>::from_floats([[1.0, -2.0], [0.5, 4.0]], &device);
        let mut sink = StateSink::default();
        SgdState::new(Some(MomentumState::new(velocity.clone()))).state_flatten("p", &mut sink);
        let mut source = StateSource::new(Default::default());
        for (name, data) in sink.tensors {
            source.insert_tensor(name, data);
        }
        let loaded = MomentumSgdState::<2>::state_unflatten("p", &mut source, &device)
            .expect("Burn's record loads");
        loaded
            .velocity
            .to_data()
            .assert_eq(&velocity.to_data(), true);
        let mut sink = StateSink::default();
        loaded.state_flatten("p", &mut sink);
        let mut source = StateSource::new(Default::default());
        for (name, data) in sink.tensors {
            source.insert_tensor(name, data);
        }
        assert!(
            SgdState::<2>::state_unflatten("p", &mut source, &device)
                .and_then(|s| s.momentum)
                .is_some(),
            "ours loads into Burn's"
        );
    }
}
