//! Where the API may listen.

use std::net::SocketAddr;

use crate::api_server::{check_bind_allowed, ApiBindError};

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

#[test]
fn loopback_is_always_allowed() {
    assert!(check_bind_allowed(addr("127.0.0.1:64124"), false).is_ok());
    assert!(check_bind_allowed(addr("[::1]:64124"), false).is_ok());
}

#[test]
fn other_addresses_need_a_configured_token() {
    let err = check_bind_allowed(addr("0.0.0.0:64124"), false).unwrap_err();
    let ApiBindError::NonLoopbackWithoutToken { addr: refused } = err;
    assert_eq!(refused, addr("0.0.0.0:64124"));
    let message = check_bind_allowed(addr("192.168.1.5:8080"), false)
        .unwrap_err()
        .to_string();
    assert!(message.contains("192.168.1.5:8080"), "{message}");
    assert!(message.contains("token"), "{message}");
    assert!(check_bind_allowed(addr("0.0.0.0:64124"), true).is_ok());
}
