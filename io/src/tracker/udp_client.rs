//! UDP tracker client (BEP 15): one glommio `UdpSocket` driving the engine's
//! [`UdpTrackerExchange`] with real timers.
//!
//! The socket is connected to the tracker, so the kernel drops datagrams from anyone
//! else and reports ICMP "port unreachable" as an error (a dead tracker fails fast).
//! The exchange's own schedule runs for two hours before giving up; each request here
//! is additionally bounded by the caller's timeout.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ccbt_engine::tracker::udp::{IpFamily, UdpEvent, UdpRequest, UdpTrackerExchange, MAX_DATAGRAM};
use glommio::net::UdpSocket;
use rand::Rng;

use super::{display_url, resolve, split_host_port, TrackerIoError};

/// Host and port of a `udp://host:port[/path]` URL (the path is for BEP 41 options,
/// which we do not send).
pub fn parse_udp_url(url: &str) -> Result<(String, u16), TrackerIoError> {
    let bad = |reason| TrackerIoError::BadUrl {
        url: display_url(url),
        reason,
    };
    let rest = match url.get(..6) {
        Some(s) if s.eq_ignore_ascii_case("udp://") => &url[6..],
        _ => return Err(bad("not a udp:// URL")),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    split_host_port(&rest[..end], None).ok_or_else(|| bad("bad host or port (UDP trackers need a port)"))
}

/// A UDP tracker session: a socket connected to the tracker and the exchange state
/// (which caches the connection id, so an announce and a scrape share one connect).
pub struct UdpTrackerClient {
    url: String,
    socket: UdpSocket,
    exchange: UdpTrackerExchange,
    buf: Vec<u8>,
}

impl UdpTrackerClient {
    /// Resolves the tracker, binds an ephemeral socket of the same family and connects
    /// it. Transaction ids are seeded from `rng`.
    pub async fn connect<R: Rng>(url: &str, rng: &mut R) -> Result<Self, TrackerIoError> {
        let (host, port) = parse_udp_url(url)?;
        let addrs = resolve(url, &host, port).await?;
        let addr = addrs.first().copied().ok_or_else(|| TrackerIoError::Resolve {
            url: display_url(url),
            host: host.clone(),
            reason: "no addresses".into(),
        })?;
        let io_err = |during| {
            move |source: glommio::GlommioError<()>| TrackerIoError::Io {
                url: display_url(url),
                during,
                source: source.into(),
            }
        };
        let local: SocketAddr = if addr.is_ipv4() {
            SocketAddr::from(([0, 0, 0, 0], 0))
        } else {
            SocketAddr::from(([0u16; 8], 0))
        };
        let socket = UdpSocket::bind(local).map_err(io_err("binding a UDP socket"))?;
        socket
            .connect(addr)
            .await
            .map_err(io_err("connecting the UDP socket"))?;
        Ok(UdpTrackerClient {
            url: url.to_string(),
            socket,
            exchange: UdpTrackerExchange::new(IpFamily::of(&addr), rng),
            buf: vec![0u8; MAX_DATAGRAM],
        })
    }

    /// The tracker URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Runs `request` to its outcome, giving up after `timeout`. A tracker error or
    /// a malformed answer becomes [`TrackerIoError::Protocol`].
    pub async fn request(&mut self, request: UdpRequest, timeout: Duration) -> Result<UdpEvent, TrackerIoError> {
        let deadline = Instant::now() + timeout;
        // `start` abandons whatever a timed-out earlier request left behind.
        self.exchange.start(request);
        self.drive(deadline, timeout).await
    }

    async fn drive(&mut self, deadline: Instant, timeout: Duration) -> Result<UdpEvent, TrackerIoError> {
        // One receive stays posted across the loop's turns: a receive abandoned for the
        // retransmit timer (as a fresh `future::or` each turn would do) can lose the
        // answer it was filling, costing a whole retransmit interval.
        let socket = &self.socket;
        let mut receiving = Box::pin(receive(socket, std::mem::take(&mut self.buf)));
        let outcome = loop {
            let now = Instant::now();
            if now >= deadline {
                break Err(TrackerIoError::Timeout {
                    url: display_url(&self.url),
                    during: "waiting for the UDP tracker",
                    after: timeout,
                });
            }
            if let Some(UdpEvent::Failed(e)) = self.exchange.handle_timeout(now) {
                break Err(protocol_error(&self.url, e));
            }
            let mut sent = Ok(());
            while let Some(packet) = self.exchange.poll_transmit(now) {
                if let Err(source) = socket.send(&packet).await {
                    sent = Err(TrackerIoError::Io {
                        url: display_url(&self.url),
                        during: "sending to the UDP tracker",
                        source: source.into(),
                    });
                    break;
                }
            }
            if let Err(e) = sent {
                break Err(e);
            }
            let wake = self.exchange.poll_timeout().map_or(deadline, |t| t.min(deadline));
            let wait = wake.saturating_duration_since(Instant::now());
            let received = futures_lite::future::or(async { Some((&mut receiving).await) }, async {
                glommio::timer::sleep(wait).await;
                None
            })
            .await;
            let Some((buf, result)) = received else { continue };
            match result {
                Err(source) => {
                    self.buf = buf;
                    return Err(TrackerIoError::Io {
                        url: display_url(&self.url),
                        during: "receiving from the UDP tracker",
                        source: source.into(),
                    });
                }
                Ok(n) => {
                    let event = self.exchange.handle_datagram(Instant::now(), &buf[..n.min(buf.len())]);
                    match event {
                        None => receiving.set(receive(socket, buf)),
                        Some(UdpEvent::Failed(e)) => {
                            self.buf = buf;
                            return Err(protocol_error(&self.url, e));
                        }
                        Some(event) => {
                            self.buf = buf;
                            return Ok(event);
                        }
                    }
                }
            }
        };
        // The posted receive still holds the buffer; the next request allocates anew.
        self.buf = vec![0u8; MAX_DATAGRAM];
        outcome
    }
}

/// One receive into an owned buffer, handed back with the result.
async fn receive(socket: &UdpSocket, mut buf: Vec<u8>) -> (Vec<u8>, glommio::Result<usize, ()>) {
    let result = socket.recv(&mut buf).await;
    (buf, result)
}

fn protocol_error(url: &str, source: ccbt_engine::tracker::TrackerError) -> TrackerIoError {
    TrackerIoError::Protocol {
        url: display_url(url),
        source,
    }
}
