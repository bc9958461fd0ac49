//! Generated bindings for the three policy worlds, kept private: the crate's
//! public API uses its own types so generated names never leak.
//!
//! The health and weight worlds reuse the priority world's interfaces
//! (`with`), so the shared types and host traits exist once.

pub(crate) mod priority {
    wasmtime::component::bindgen!({
        path: "../../guest-sdk/wit",
        world: "priority",
    });
}

pub(crate) mod health {
    wasmtime::component::bindgen!({
        path: "../../guest-sdk/wit",
        world: "health",
        with: {
            "holdfast:policy/types": crate::bindings::priority::holdfast::policy::types,
            "holdfast:policy/log": crate::bindings::priority::holdfast::policy::log,
            "holdfast:policy/clock": crate::bindings::priority::holdfast::policy::clock,
            "holdfast:policy/state": crate::bindings::priority::holdfast::policy::state,
        },
    });
}

pub(crate) mod weight {
    wasmtime::component::bindgen!({
        path: "../../guest-sdk/wit",
        world: "weight",
        with: {
            "holdfast:policy/types": crate::bindings::priority::holdfast::policy::types,
            "holdfast:policy/log": crate::bindings::priority::holdfast::policy::log,
            "holdfast:policy/clock": crate::bindings::priority::holdfast::policy::clock,
            "holdfast:policy/state": crate::bindings::priority::holdfast::policy::state,
        },
    });
}

pub(crate) use priority::holdfast::policy::types;
