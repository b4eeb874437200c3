use glommio::{LocalExecutorBuilder, Placement, net::{TcpListener, TcpStream}};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
fn main() {
    let h = LocalExecutorBuilder::new(Placement::Fixed(0)).spawn(|| async move {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let t = glommio::spawn_local(async move {
            let mut s = l.accept().await.unwrap();
            let mut buf = vec![0u8; 5];
            s.read_exact(&mut buf).await.unwrap();
            buf
        });
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(b"hello").await.unwrap();
        let got = t.await;
        println!("got {:?}", String::from_utf8(got));
        let f = glommio::io::OpenOptions::new().read(true).write(true).create(true).buffered_open("/tmp/ccbt_probe.bin").await.unwrap();
        f.write_at(vec![7u8; 4096], 8192).await.unwrap();
        let r = f.read_at(8192, 4096).await.unwrap();
        println!("read {} {}", r.len(), r[0]);
        f.close().await.unwrap();
    }).unwrap();
    h.join().unwrap();
}
