//! Subnormal f32 values on the CPU: flushed to zero, or kept.
//!
//! IEEE arithmetic keeps values below `f32::MIN_POSITIVE` (1.2e-38) as
//! subnormals, and x86 CPUs compute with them by microcode: a matrix
//! product whose inputs hold 1% of them ran 37 times slower here (numpy,
//! one thread, 2026-12-01). A net trained to a tiny loss produces them:
//! late in `classify --preset hs`'s conjugate gradients the output layer's
//! slopes are about 1e-30, 7% of them subnormal, and backpropagation
//! through saturated units makes more. Flushed to zero they change the
//! weights by nothing f32 can hold (a weight near 0.01 moves in steps of
//! about 1e-9). TensorFlow flushes them by default on the CPU; PyTorch
//! offers `torch.set_flush_denormal`.
//!
//! The setting is the CPU's, per thread (MXCSR's flush-to-zero and
//! denormals-are-zero bits), so the program sets it, not this crate's
//! computations: [`set_flush_subnormals`] on the calling thread and on every
//! thread of rayon's current pool, where Flex's products and this crate's
//! host kernels run.

/// MXCSR's flush-to-zero (results) and denormals-are-zero (inputs) bits.
#[cfg(target_arch = "x86_64")]
const FTZ_DAZ: u32 = (1 << 15) | (1 << 6);

#[cfg(target_arch = "x86_64")]
fn control_status() -> u32 {
    let mut csr = 0u32;
    // SAFETY: stores the SSE control/status register into a local u32.
    unsafe {
        std::arch::asm!("stmxcsr [{}]", in(reg) &mut csr, options(nostack, preserves_flags));
    }
    csr
}

#[cfg(target_arch = "x86_64")]
fn set_control_status(csr: u32) {
    // SAFETY: loads a value read by `control_status` with two mode bits
    // set or cleared; no reserved bit is touched, so the load cannot fault.
    unsafe {
        std::arch::asm!("ldmxcsr [{}]", in(reg) &csr, options(nostack, readonly, preserves_flags));
    }
}

/// Flushes subnormal f32 (and f64) values to zero, as inputs and as
/// results (`flush`), or keeps them as IEEE does (`!flush`, every thread's
/// default), on the calling thread and on every thread of rayon's current
/// pool (the global one unless called inside another pool). Returns
/// whether this CPU has the setting (x86-64); elsewhere nothing changes.
///
/// The same seed on the same CPU still gives the same bits; flushed, they
/// differ from a run that kept subnormals wherever a value fell below
/// 1.2e-38.
pub fn set_flush_subnormals(flush: bool) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        let set = || {
            let csr = control_status();
            set_control_status(if flush { csr | FTZ_DAZ } else { csr & !FTZ_DAZ });
        };
        set();
        rayon::broadcast(|_| set());
        true
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = flush;
        false
    }
}

/// Whether subnormals are flushed to zero on the calling thread.
pub fn subnormals_flushed() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        control_status() & FTZ_DAZ == FTZ_DAZ
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}
