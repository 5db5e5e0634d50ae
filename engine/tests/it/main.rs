//! Integration tests of the engine crate.

mod slt;
