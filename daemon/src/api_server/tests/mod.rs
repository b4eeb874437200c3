//! The API server over real loopback HTTP: a [`harness::TestServer`] runs `serve` on a
//! current-thread tokio runtime of its own thread with a [`fake_core`] answering the
//! requests; the tests speak HTTP with `minreq`.

mod auth_hardening;
mod bad_input;
mod bind_rules;
mod changes_tests;
mod event_stream_tests;
mod fake_core;
mod happy_paths;
mod harness;
mod metrics_routes;
mod transmission_rpc_http;
