//! Where the hand-made bad peers that wait to be dialed listen: 127.0.0.2, since
//! bans are by IP and a test's honest peers live on other loopback addresses.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest a listener accepts, whatever the test does.
const LIFETIME: Duration = Duration::from_secs(600);

/// Listens on an ephemeral port of 127.0.0.2 and hands each connection to `serve`
/// (with the stop flag) on a thread of its own, until `stop` is set or 10 minutes
/// have passed. Returns the address.
pub fn serve_on_127_0_0_2<F>(stop: Arc<AtomicBool>, serve: F) -> SocketAddr
where
    F: Fn(TcpStream, &AtomicBool) + Clone + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.2:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let end = Instant::now() + LIFETIME;
        while !stop.load(Ordering::Relaxed) && Instant::now() < end {
            match listener.accept() {
                Ok((stream, _)) => {
                    let (serve, stop) = (serve.clone(), stop.clone());
                    std::thread::spawn(move || serve(stream, &stop));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    });
    addr
}
