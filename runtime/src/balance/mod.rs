//! Load balancing of one Model API's primary target: weighted random (`byProportion`) and peak-EWMA power of two choices (`byMetrics`).

pub mod metrics;
pub mod rng;
pub mod weighted;

pub use metrics::{MetricsBalancer, Probe};
pub use weighted::WeightedPicker;
