//! Write tokens (BEP 5): a `get_peers` answer carries a token that the querier must
//! show in its `announce_peer`, proving it owns its address. A token is a hash of
//! the querier's IP with a secret; the secret changes every [`ROTATE_EVERY`] and the
//! previous one is still honoured, so a token lives between 5 and 10 minutes.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use rand::Rng;
use sha1::{Digest, Sha1};

/// How often the secret changes.
pub const ROTATE_EVERY: Duration = Duration::from_secs(5 * 60);
/// Bytes of a token we hand out.
pub const TOKEN_LEN: usize = 8;

/// The current and previous secrets.
#[derive(Clone, Debug)]
pub struct TokenSecrets {
    current: [u8; 16],
    previous: [u8; 16],
    rotated_at: Instant,
}

impl TokenSecrets {
    pub fn new<R: Rng>(rng: &mut R, now: Instant) -> TokenSecrets {
        let mut current = [0u8; 16];
        let mut previous = [0u8; 16];
        rng.fill(&mut current[..]);
        rng.fill(&mut previous[..]);
        TokenSecrets {
            current,
            previous,
            rotated_at: now,
        }
    }

    /// Rotates the secrets if [`ROTATE_EVERY`] has passed (twice if two periods have).
    pub fn maybe_rotate<R: Rng>(&mut self, now: Instant, rng: &mut R) {
        for _ in 0..2 {
            if now.saturating_duration_since(self.rotated_at) < ROTATE_EVERY {
                return;
            }
            self.previous = self.current;
            rng.fill(&mut self.current[..]);
            self.rotated_at += ROTATE_EVERY;
        }
        // Idle for longer than two periods: nothing from before is valid any more.
        if now.saturating_duration_since(self.rotated_at) >= ROTATE_EVERY {
            rng.fill(&mut self.previous[..]);
            self.rotated_at = now;
        }
    }

    /// When the next rotation is due.
    pub fn next_rotation(&self) -> Instant {
        self.rotated_at + ROTATE_EVERY
    }

    /// The token for a querier at `ip`.
    pub fn token_for(&self, ip: IpAddr) -> [u8; TOKEN_LEN] {
        make_token(&self.current, ip)
    }

    /// True if `token` was handed to `ip` under the current or previous secret.
    pub fn is_valid(&self, token: &[u8], ip: IpAddr) -> bool {
        token == make_token(&self.current, ip) || token == make_token(&self.previous, ip)
    }
}

fn make_token(secret: &[u8; 16], ip: IpAddr) -> [u8; TOKEN_LEN] {
    let mut h = Sha1::new();
    h.update(secret);
    match ip {
        IpAddr::V4(v4) => h.update(v4.octets()),
        IpAddr::V6(v6) => h.update(v6.octets()),
    }
    let digest = h.finalize();
    let mut out = [0u8; TOKEN_LEN];
    out.copy_from_slice(&digest[..TOKEN_LEN]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    #[test]
    fn a_token_lives_for_one_to_two_periods_and_only_for_its_ip() {
        let mut rng = SmallRng::seed_from_u64(1);
        let t0 = Instant::now();
        let mut s = TokenSecrets::new(&mut rng, t0);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        let token = s.token_for(ip);
        assert!(s.is_valid(&token, ip));
        assert!(!s.is_valid(&token, other));
        assert!(!s.is_valid(&token[..4], ip));
        s.maybe_rotate(t0 + ROTATE_EVERY, &mut rng);
        assert!(s.is_valid(&token, ip), "the previous secret still counts");
        s.maybe_rotate(t0 + ROTATE_EVERY * 2, &mut rng);
        assert!(!s.is_valid(&token, ip), "two rotations later it has expired");
        let fresh = s.token_for(ip);
        s.maybe_rotate(t0 + ROTATE_EVERY * 10, &mut rng);
        assert!(!s.is_valid(&fresh, ip), "a long idle gap expires everything");
    }
}
