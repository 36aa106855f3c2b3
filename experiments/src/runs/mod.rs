//! The runs behind the subcommands: each takes a validated configuration,
//! an open run directory, the data and the device, and reports progress
//! through a callback (`say`), never by printing.

pub mod bench;
pub mod bound;
pub mod classify;
pub mod conjugate_finetune;
pub mod few_labels;
pub mod function_space;
pub mod gaussian;
pub mod gaussian_sweeps;
pub mod generative;
pub mod infinite_sbn;
pub mod loglik;
pub mod pretrain;
pub mod rbm;
pub mod seeds;
pub mod study;
pub mod study_report;
pub mod study_run;
#[cfg(test)]
mod study_tests;
pub mod sweep;
pub mod top_rbm_sweep;
pub mod updown_sweep;

/// Whether `values` (a grid or list of a sweep: depths, rates, seeds, label
/// counts) holds a value twice: its arms and units are named by value, so
/// a repeat would be the same work twice under one name.
pub fn has_repeats<T: PartialEq>(values: &[T]) -> bool {
    first_repeat(values).is_some()
}

/// The first value of `values` equal to an earlier one, as `(earlier,
/// later)` positions.
pub fn first_repeat<T: PartialEq>(values: &[T]) -> Option<(usize, usize)> {
    values.iter().enumerate().find_map(|(later, value)| {
        values[..later]
            .iter()
            .position(|earlier| earlier == value)
            .map(|earlier| (earlier, later))
    })
}

/// The outcome of a run that can stop early: finished with its result, or
/// interrupted (from the dashboard) with its last committed checkpoint kept
/// for `--resume`.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome<T> {
    Finished(T),
    Interrupted,
}

#[cfg(test)]
mod tests {
    #[test]
    fn repeats_are_found_anywhere_and_only_when_there() {
        assert!(!super::has_repeats::<u64>(&[]));
        assert!(!super::has_repeats(&[1, 2, 3]));
        assert!(super::has_repeats(&[1, 2, 1]));
        assert!(super::has_repeats(&[Some(10), None, None]));
        assert!(!super::has_repeats(&[0.1, 0.3]));
        assert!(super::has_repeats(&[0.1, 0.3, 0.1]));
        assert_eq!(super::first_repeat(&[4, 5, 6, 5, 4]), Some((1, 3)));
    }
}
