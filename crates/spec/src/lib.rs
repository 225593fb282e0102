//! The envctl spec (being written): for now only the desired-state model.

pub mod model;
pub use model::*;
