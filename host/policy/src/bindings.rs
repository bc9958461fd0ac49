//! Generated bindings for the policy worlds, kept private: the crate's
//! public API uses its own types so generated names never leak.
//!
//! The current contract (`guest-sdk/wit`, 0.2.0) has four worlds; the
//! frozen 0.1.0 contract (`guest-sdk/wit-0.1.0`) three, bound in [`v0_1`]
//! so modules built against it keep loading. Within a version, the worlds
//! reuse the priority world's interfaces (`with`), so the shared types and
//! host traits exist once.

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

pub(crate) mod probe {
    wasmtime::component::bindgen!({
        path: "../../guest-sdk/wit",
        world: "probe",
        with: {
            "holdfast:policy/types": crate::bindings::priority::holdfast::policy::types,
            "holdfast:policy/log": crate::bindings::priority::holdfast::policy::log,
            "holdfast:policy/clock": crate::bindings::priority::holdfast::policy::clock,
        },
    });
}

/// The frozen 0.1.0 contract.
pub(crate) mod v0_1 {
    pub(crate) mod priority {
        wasmtime::component::bindgen!({
            path: "../../guest-sdk/wit-0.1.0",
            world: "priority",
        });
    }

    pub(crate) mod health {
        wasmtime::component::bindgen!({
            path: "../../guest-sdk/wit-0.1.0",
            world: "health",
            with: {
                "holdfast:policy/types": crate::bindings::v0_1::priority::holdfast::policy::types,
                "holdfast:policy/log": crate::bindings::v0_1::priority::holdfast::policy::log,
                "holdfast:policy/clock": crate::bindings::v0_1::priority::holdfast::policy::clock,
                "holdfast:policy/state": crate::bindings::v0_1::priority::holdfast::policy::state,
            },
        });
    }

    pub(crate) mod weight {
        wasmtime::component::bindgen!({
            path: "../../guest-sdk/wit-0.1.0",
            world: "weight",
            with: {
                "holdfast:policy/types": crate::bindings::v0_1::priority::holdfast::policy::types,
                "holdfast:policy/log": crate::bindings::v0_1::priority::holdfast::policy::log,
                "holdfast:policy/clock": crate::bindings::v0_1::priority::holdfast::policy::clock,
                "holdfast:policy/state": crate::bindings::v0_1::priority::holdfast::policy::state,
            },
        });
    }

    pub(crate) use priority::holdfast::policy::types;
}

pub(crate) use priority::holdfast::policy::types;
