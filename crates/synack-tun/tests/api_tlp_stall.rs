//! A known, not yet understood failure, kept as an ignored regression test: with tail loss
//! probes on (`Config::tail_loss_probe`, RK-3), 16 MiB each way over the in-memory link with
//! 3% loss (seed 12, IPv6) stalls: both ends end up with data outstanding, RTOs that stop
//! backing off, and finally abort after R2 (TimedOut). The same transfer with TLP off passes
//! (`api_transfer::transfer_under_three_percent_loss`), and the simulator's zero-delay, 3%
//! loss, 16 MiB-each-way runs with TLP on are clean (`synack sim --delay 0 --loss 3% ...`), so
//! the interaction seems specific to this runtime's timing. TLP stays off by default until
//! this passes. Run with `cargo test -p synack-tun --test api_tlp_stall -- --ignored`.

mod api_support;
use api_support::*;
use synack::Config;
use synack_tun::device::memory::LinkConfig;

#[tokio::test(start_paused = true)]
#[ignore = "known bug: TLP on stalls this lossy tokio transfer until R2 (see the module docs)"]
async fn rk_3_tlp_on_sixteen_mib_each_way_under_three_percent_loss() {
    let link = LinkConfig {
        loss: 0.03,
        seed: 12,
        ..LinkConfig::default()
    };
    let config = Config {
        tail_loss_probe: true,
        ..Config::default()
    };
    let p = pair_with(link, config);
    let listener = synack_tun::TcpListener::bind(&p.server, sa("[2001:db8::2]:5002"))
        .await
        .unwrap();
    let len = 16 << 20;
    let up = pattern(1, len);
    let down = pattern(2, len);
    let (up_hash, down_hash) = (Fnv::of(&up), Fnv::of(&down));
    let server = tokio::spawn(async move {
        let (s, _) = listener.accept().await.unwrap();
        let (mut r, mut w) = s.into_split();
        let writer = tokio::spawn(async move { send_all(&mut w, &down, 48 * 1024).await });
        let got = recv_hash(&mut r).await;
        writer.await.unwrap();
        got
    });
    let c = synack_tun::TcpStream::connect(&p.client, sa("[2001:db8::2]:5002"))
        .await
        .unwrap();
    let (mut r, mut w) = c.into_split();
    let writer = tokio::spawn(async move { send_all(&mut w, &up, 64 * 1024).await });
    assert_eq!(recv_hash(&mut r).await, (len, down_hash));
    writer.await.unwrap();
    assert_eq!(server.await.unwrap(), (len, up_hash));
}
