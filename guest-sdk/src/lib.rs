//! The SDK for holdfast policy authors.
//!
//! Policies are WebAssembly components that implement one of the worlds of
//! the `holdfast:policy` WIT package in `wit/`: priority, health or weight.
