//! [`HostOps`] under autodiff: Burn's backward passes, through the
//! inner backend's host ops.

use burn::backend::TensorMetadata;
use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, binary, unary};
use burn::backend::ops::FloatTensorOps;
use burn::backend::{Autodiff, Backend, tensor::FloatTensor};

use super::HostOps;

impl<B: Backend + HostOps, C: CheckpointStrategy> HostOps for Autodiff<B, C> {
    fn matmul(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
        /// Burn's matmul backward for 2-D operands, through
        /// [`HostOps::matmul`]: `grad rhs^T` and `lhs^T grad`.
        #[derive(Debug)]
        struct Matmul;

        impl<B: Backend + HostOps> Backward<B, 2> for Matmul {
            type State = (Option<NodeId>, Option<NodeId>);

            fn backward(
                self,
                ops: Ops<Self::State, 2>,
                grads: &mut Gradients,
                checkpointer: &mut Checkpointer,
            ) {
                let (lhs, rhs) = ops.state;
                let lhs = lhs.map(|lhs| checkpointer.retrieve_node_output(lhs));
                let rhs = rhs.map(|rhs| checkpointer.retrieve_node_output(rhs));
                binary::<B, _, _>(
                    ops.parents,
                    ops.node,
                    grads,
                    |grad| B::matmul(grad, B::float_transpose(rhs.expect("kept for lhs"))),
                    |grad| B::matmul(B::float_transpose(lhs.expect("kept for rhs")), grad),
                );
            }
        }

        // Other ranks broadcast batch dimensions: Burn's own op.
        if lhs.primitive().shape().num_dims() != 2 || rhs.primitive().shape().num_dims() != 2 {
            return <Self as FloatTensorOps<Self>>::float_matmul(lhs, rhs);
        }
        let (lhs_tracked, rhs_tracked) = (lhs.is_tracked(), rhs.is_tracked());
        match Matmul
            .prepare::<C>([lhs.node(), rhs.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                // Each operand is kept only for the other's gradient.
                let lhs_state = rhs_tracked.then(|| prep.checkpoint(&lhs));
                let rhs_state = lhs_tracked.then(|| prep.checkpoint(&rhs));
                prep.finish(
                    (lhs_state, rhs_state),
                    B::matmul(lhs.into_primitive(), rhs.into_primitive()),
                )
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::matmul(lhs.into_primitive(), rhs.into_primitive()))
            }
        }
    }

    fn logistic(x: FloatTensor<Self>) -> FloatTensor<Self> {
        /// The backward pass from the saved output `s`: `grad * s (1 - s)`.
        #[derive(Debug)]
        struct Logistic;

        impl<B: Backend> Backward<B, 1> for Logistic {
            type State = B::FloatTensorPrimitive;

            fn backward(
                self,
                ops: Ops<Self::State, 1>,
                grads: &mut Gradients,
                _checkpointer: &mut Checkpointer,
            ) {
                let output = ops.state;
                unary::<B, _>(ops.parents, ops.node, grads, |grad| {
                    B::sigmoid_backward(output, grad)
                });
            }
        }

        let node = x.node();
        let output = B::logistic(x.into_primitive());
        match Logistic.prepare::<C>([node]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish(output.clone(), output),
            OpsKind::UnTracked(prep) => prep.finish(output),
        }
    }
}
