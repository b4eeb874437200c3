//! [`UdpTrackerExchange`]: one UDP tracker's connect / announce / scrape exchange,
//! with BEP 15's connection-id lifetime and retransmission schedule, driven by the
//! caller's clock.

use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::{announce_request, connect_request, parse_response, scrape_request, IpFamily, Response};
use crate::tracker::{AnnounceRequest, AnnounceResponse, ScrapeStats, TrackerError};
use crate::types::InfoHash;

/// How long a connection id may be used after it arrives (BEP 15: one minute).
pub const CONNECTION_ID_LIFETIME: Duration = Duration::from_secs(60);
/// First retransmission timeout; the n-th retry waits `RETRANSMIT_BASE * 2^n`.
pub const RETRANSMIT_BASE: Duration = Duration::from_secs(15);
/// Largest `n` of the schedule (15 * 2^8 = 3840 s); once that wait also expires the
/// exchange gives up, after `MAX_RETRANSMIT_EXPONENT + 1` transmissions.
pub const MAX_RETRANSMIT_EXPONENT: u32 = 8;

/// What to ask the tracker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UdpRequest {
    /// An announce.
    Announce(AnnounceRequest),
    /// A scrape; only the first [`super::MAX_SCRAPE_HASHES`] hashes are sent.
    Scrape(Vec<InfoHash>),
}

/// The outcome of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UdpEvent {
    /// The announce succeeded.
    Announced(AnnounceResponse),
    /// The scrape succeeded: counts per requested hash, in request order.
    Scraped(Vec<ScrapeStats>),
    /// The tracker refused ([`TrackerError::Failure`]), answered garbage
    /// ([`TrackerError::BadPacket`]) or never answered ([`TrackerError::TimedOut`]).
    Failed(TrackerError),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Connecting,
    Requesting,
}

#[derive(Debug)]
struct Job {
    request: UdpRequest,
    phase: Phase,
    transaction_id: u32,
    /// Retransmission timeouts so far: the `n` of BEP 15, kept across reconnects so
    /// the whole exchange is bounded by one schedule.
    timeouts: u32,
    transmissions: u32,
    /// When the packet in flight times out; `None` while a packet is waiting to go.
    deadline: Option<Instant>,
}

/// A sans-IO BEP 15 client for one tracker, one request at a time.
///
/// Drive it like quinn-proto: [`start`](Self::start) a request, send what
/// [`poll_transmit`](Self::poll_transmit) returns, feed datagrams from the tracker to
/// [`handle_datagram`](Self::handle_datagram), and call
/// [`handle_timeout`](Self::handle_timeout) at [`poll_timeout`](Self::poll_timeout).
/// The connection id is cached, so an announce and a scrape within a minute share one
/// connect.
#[derive(Debug)]
pub struct UdpTrackerExchange {
    family: IpFamily,
    rng: SmallRng,
    /// Connection id and when it arrived.
    connection: Option<(u64, Instant)>,
    job: Option<Job>,
}

impl UdpTrackerExchange {
    /// A new exchange with a tracker reached over `family`; transaction ids come from
    /// a generator seeded by the caller's RNG.
    pub fn new<R: Rng>(family: IpFamily, rng: &mut R) -> Self {
        UdpTrackerExchange {
            family,
            rng: SmallRng::seed_from_u64(rng.gen()),
            connection: None,
            job: None,
        }
    }

    /// Starts `request`, abandoning any request still in progress.
    pub fn start(&mut self, request: UdpRequest) {
        self.job = Some(Job {
            request,
            phase: Phase::Connecting,
            transaction_id: 0,
            timeouts: 0,
            transmissions: 0,
            deadline: None,
        });
    }

    /// True when no request is in progress.
    pub fn is_idle(&self) -> bool {
        self.job.is_none()
    }

    fn connection_id(&self, now: Instant) -> Option<u64> {
        let (id, at) = self.connection?;
        (now.saturating_duration_since(at) < CONNECTION_ID_LIFETIME).then_some(id)
    }

    /// The datagram to send now, if any: the first transmission of a request or a due
    /// retransmission. A connect is sent first whenever the connection id is missing
    /// or older than [`CONNECTION_ID_LIFETIME`].
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Vec<u8>> {
        let connection = self.connection_id(now);
        let job = self.job.as_mut()?;
        if job.deadline.is_some() {
            return None;
        }
        let phase = if connection.is_some() {
            Phase::Requesting
        } else {
            Phase::Connecting
        };
        // A retransmission of the same packet keeps its transaction id so a late
        // answer to the first copy is still accepted; a new packet gets a new one.
        if job.transmissions == 0 || phase != job.phase {
            job.transaction_id = self.rng.gen();
            job.phase = phase;
        }
        let tid = job.transaction_id;
        let packet = match (connection, &job.request) {
            (None, _) => connect_request(tid).to_vec(),
            (Some(cid), UdpRequest::Announce(req)) => announce_request(cid, tid, req).to_vec(),
            (Some(cid), UdpRequest::Scrape(hashes)) => scrape_request(cid, tid, hashes),
        };
        let exponent = job.timeouts.min(MAX_RETRANSMIT_EXPONENT);
        job.deadline = Some(now + RETRANSMIT_BASE * (1u32 << exponent));
        job.transmissions += 1;
        Some(packet)
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.job.as_ref()?.deadline
    }

    /// Handles the passage of time: a packet whose wait expired is queued for
    /// retransmission, or, after the last wait of the schedule, the request fails.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<UdpEvent> {
        let job = self.job.as_mut()?;
        match job.deadline {
            Some(deadline) if deadline <= now => {}
            _ => return None,
        }
        job.timeouts += 1;
        job.deadline = None;
        if job.timeouts > MAX_RETRANSMIT_EXPONENT {
            let attempts = job.transmissions;
            self.job = None;
            return Some(UdpEvent::Failed(TrackerError::TimedOut { attempts }));
        }
        None
    }

    /// Handles a datagram from the tracker. Datagrams that do not carry the
    /// outstanding transaction id are ignored (late duplicates, spoofing); one that
    /// does but has the wrong action or size ends the request with an error.
    pub fn handle_datagram(&mut self, now: Instant, datagram: &[u8]) -> Option<UdpEvent> {
        let job = self.job.as_mut()?;
        // No packet in flight means nothing can be answered yet.
        job.deadline?;
        let tid = datagram.get(4..8).and_then(|b| <[u8; 4]>::try_from(b).ok());
        if tid.map(u32::from_be_bytes) != Some(job.transaction_id) {
            return None;
        }
        let scrape_count = match &job.request {
            UdpRequest::Scrape(h) if job.phase == Phase::Requesting => h.len(),
            _ => 0,
        };
        let result = parse_response(datagram, self.family, scrape_count);
        let event = match (job.phase, &job.request, result) {
            (_, _, Err(e)) => UdpEvent::Failed(e),
            (_, _, Ok(Response::Error { message, .. })) => UdpEvent::Failed(TrackerError::Failure(message)),
            (Phase::Connecting, _, Ok(Response::Connect { connection_id, .. })) => {
                self.connection = Some((connection_id, now));
                job.deadline = None;
                return None;
            }
            (Phase::Requesting, UdpRequest::Announce(_), Ok(Response::Announce { response, .. })) => {
                UdpEvent::Announced(response)
            }
            (Phase::Requesting, UdpRequest::Scrape(h), Ok(Response::Scrape { mut stats, .. })) => {
                stats.truncate(h.len());
                UdpEvent::Scraped(stats)
            }
            _ => UdpEvent::Failed(TrackerError::BadPacket {
                packet: "response",
                len: datagram.len(),
                reason: "action does not answer the request",
            }),
        };
        self.job = None;
        if matches!(event, UdpEvent::Failed(_)) {
            // The id may be what the tracker objected to; start the next request afresh.
            self.connection = None;
        }
        Some(event)
    }
}
