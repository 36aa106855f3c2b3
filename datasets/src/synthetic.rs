/// All distinct `side x side` bars-and-stripes images (MacKay 2003): every
/// pattern of fully-on rows, and every pattern of fully-on columns. The empty
/// and the full image arise both ways and are listed once, so there are
/// `2^(side+1) - 2` patterns; the data distribution is uniform over them.
///
/// Returns the patterns row-major, `side * side` values each, in {0, 1}.
///
/// # Panics
/// If `side` is 0 or greater than 16 (2^17 patterns would not be "small").
pub fn bars_and_stripes(side: usize) -> Vec<Vec<f32>> {
    assert!(
        (1..=16).contains(&side),
        "bars_and_stripes: side must be in 1..=16"
    );
    let mut patterns: Vec<Vec<f32>> = Vec::new();
    for mask in 0u32..(1 << side) {
        let rows: Vec<f32> = (0..side * side)
            .map(|i| ((mask >> (i / side)) & 1) as f32)
            .collect();
        let cols: Vec<f32> = (0..side * side)
            .map(|i| ((mask >> (i % side)) & 1) as f32)
            .collect();
        for p in [rows, cols] {
            if !patterns.contains(&p) {
                patterns.push(p);
            }
        }
    }
    patterns
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_two_to_the_side_plus_one_minus_two() {
        for side in 1..=4 {
            assert_eq!(bars_and_stripes(side).len(), (1 << (side + 1)) - 2);
        }
    }

    #[test]
    fn every_pattern_is_all_rows_or_all_columns() {
        let side = 4;
        for p in bars_and_stripes(side) {
            let rows_uniform = (0..side).all(|r| (0..side).all(|c| p[r * side + c] == p[r * side]));
            let cols_uniform = (0..side).all(|c| (0..side).all(|r| p[r * side + c] == p[c]));
            assert!(rows_uniform || cols_uniform);
        }
    }
}
