//! Generated from the OpenAPI specs in `specs/`: one module per spec, each
//! with `types` (always), `client` (feature `client`) and `server` (feature
//! `server`). A readable copy of this code is committed in `generated/`.
//!
//! Shared definitions (`specs/common.yaml`) live in [`common::types`] and are
//! re-exported by the modules that use them.

include!(concat!(env!("OUT_DIR"), "/mod.rs"));
