//! Tests of the scene generator and of the questions.

mod generation;
mod questions;
mod style;
