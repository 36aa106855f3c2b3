//! The statistics of the study's pictures: distances between networks'
//! output vectors, nearest-neighbour purity, means with standard
//! deviations, and the 2-D t-SNE embedding of the trajectories.

use rbm::Sampler;

/// Euclidean distance between two function-space vectors.
pub fn distance(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| ((x - y) as f64).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// "No overlap" (Erhan et al., figure 5), in function space: the share of
/// points whose nearest neighbour among the other points has the same
/// label (percent). Labels are arms; points are the final networks.
///
/// # Panics
/// With fewer than 2 points, or labels of another length.
pub fn nearest_neighbour_purity<L: PartialEq>(points: &[Vec<f32>], labels: &[L]) -> f64 {
    assert!(points.len() >= 2 && labels.len() == points.len());
    let same = (0..points.len())
        .filter(|&i| {
            let nearest = (0..points.len())
                .filter(|&j| j != i)
                .min_by(|&a, &b| {
                    distance(&points[i], &points[a]).total_cmp(&distance(&points[i], &points[b]))
                })
                .expect("two points or more");
            labels[nearest] == labels[i]
        })
        .count();
    100.0 * same as f64 / points.len() as f64
}

/// Mean distance between all pairs of `points` ("each trajectory ends in
/// a different local minimum": how far apart the minima are).
///
/// # Panics
/// With fewer than 2 points.
pub fn mean_pairwise_distance(points: &[&Vec<f32>]) -> f64 {
    assert!(points.len() >= 2);
    let mut total = 0.0;
    let mut pairs = 0usize;
    for i in 0..points.len() {
        for j in i + 1..points.len() {
            total += distance(points[i], points[j]);
            pairs += 1;
        }
    }
    total / pairs as f64
}

/// Mean and sample standard deviation.
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = if values.len() > 1 {
        values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}

/// The standard error of the mean of `values` (sample sd / sqrt(n); 0 for
/// one value).
pub fn standard_error(values: &[f64]) -> f64 {
    let (_, sd) = mean_std(values);
    sd / (values.len() as f64).sqrt()
}

/// A 2-D t-SNE embedding of `points` (Barnes-Hut, `bhtsne`), started from
/// a seeded random layout so that it repeats. The perplexity is capped at a
/// third of the number of other points, as t-SNE requires.
///
/// # Panics
/// With fewer than 5 points.
pub fn tsne_2d(points: &[Vec<f32>], perplexity: f32, epochs: usize, seed: u64) -> Vec<[f32; 2]> {
    assert!(points.len() >= 5, "t-SNE needs 5 points or more");
    let perplexity = perplexity
        .min((points.len() - 1) as f32 / 3.0 - 1.0)
        .max(1.0);
    let initial: Vec<f32> = Sampler::new(seed)
        .normal_vec(points.len() * 2)
        .into_iter()
        .map(|x| x * 1e-4)
        .collect();
    let samples: Vec<&[f32]> = points.iter().map(Vec::as_slice).collect();
    // One thread: bhtsne's parallel sums are ordered by the scheduler, so
    // on several threads the same points embed differently from run to run
    // (a study's report must be the same bytes from any process).
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a one-thread pool");
    let embedding = pool.install(|| {
        bhtsne::tSNE::<f32, &[f32], 2>::new(&samples)
            .perplexity(perplexity)
            .epochs(epochs)
            .initial_embedding(initial)
            .barnes_hut(0.5, |a, b| distance(a, b) as f32)
            .embedding()
    });
    embedding.chunks(2).map(|p| [p[0], p[1]]).collect()
}
