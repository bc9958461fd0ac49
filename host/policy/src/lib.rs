//! The WebAssembly policy runtime: sandboxed priority, health and weight
//! policies with fuel, deadline and memory limits, a precompile cache, hot
//! swap and fallbacks.
