//! The statistics of the insights report: medians with a distribution-free
//! interval, and Wilson score intervals for rates. Both are closed-form
//! (no resampling), so the report is deterministic and fast.

use serde::Serialize;

/// The z of a two-sided 95 % interval.
const Z95: f64 = 1.959_963_984_540_054;

/// A 95 % interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
}

impl Interval {
    /// True when the two do not overlap: the data separates them.
    pub fn apart(&self, other: &Interval) -> bool {
        self.low > other.high || other.low > self.high
    }

    /// Both bounds times `k`.
    pub fn scaled(self, k: f64) -> Interval {
        Interval {
            low: self.low * k,
            high: self.high * k,
        }
    }
}

/// The median of `sorted` (ascending), `None` when empty.
pub fn median(sorted: &[i64]) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    Some(if n % 2 == 1 {
        sorted[n / 2] as f64
    } else {
        (sorted[n / 2 - 1] as f64 + sorted[n / 2] as f64) / 2.0
    })
}

/// The 95 % interval of the median of `sorted` (ascending) from its order
/// statistics: the ranks `n/2 ∓ 1.96·√n/2` (the binomial(n, ½) normal
/// approximation). It assumes nothing about the distribution, which reach
/// (skewed, heavy-tailed) needs, and it is what a percentile bootstrap of
/// the median converges to, without resampling noise or cost.
pub fn median_interval(sorted: &[i64]) -> Option<Interval> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let half = Z95 * (n as f64).sqrt() / 2.0;
    let lo = ((n as f64 / 2.0 - half).floor() as i64).clamp(1, n as i64) as usize;
    let hi = ((n as f64 / 2.0 + 1.0 + half).ceil() as i64).clamp(1, n as i64) as usize;
    Some(Interval {
        low: sorted[lo - 1] as f64,
        high: sorted[hi - 1] as f64,
    })
}

/// `hits / trials` and its 95 % Wilson score interval, `None` without
/// trials. Hits above trials are counted as trials (a rate is at most 1).
pub fn wilson(hits: u64, trials: u64) -> Option<(f64, Interval)> {
    if trials == 0 {
        return None;
    }
    let n = trials as f64;
    let p = hits.min(trials) as f64 / n;
    let z2 = Z95 * Z95;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let spread = Z95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / (1.0 + z2 / n);
    Some((
        p,
        Interval {
            low: (centre - spread).max(0.0),
            high: (centre + spread).min(1.0),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_their_intervals() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3]), Some(3.0));
        assert_eq!(median(&[1, 2, 3, 10]), Some(2.5));
        let v: Vec<i64> = (1..=100).collect();
        let i = median_interval(&v).unwrap();
        // n = 100: ranks 40 and 61 (the textbook 95 % ranks).
        assert_eq!((i.low, i.high), (40.0, 61.0));
        assert_eq!(median_interval(&[7]).unwrap().low, 7.0);
    }

    #[test]
    fn wilson_matches_the_textbook() {
        // 10 of 100: 0.0552 – 0.1744.
        let (p, i) = wilson(10, 100).unwrap();
        assert!((p - 0.1).abs() < 1e-12);
        assert!((i.low - 0.0552).abs() < 1e-4, "{i:?}");
        assert!((i.high - 0.1744).abs() < 1e-4, "{i:?}");
        assert!(wilson(0, 0).is_none());
        assert_eq!(wilson(0, 10).unwrap().1.low, 0.0);
        assert!(wilson(12, 10).unwrap().0 <= 1.0);
    }
}
