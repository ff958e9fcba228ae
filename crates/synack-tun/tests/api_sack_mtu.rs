//! Regression: 16 MiB each way over the in-memory link with 3% loss (seed 12, IPv6) and tail
//! loss probes on (RK-3) once stalled until R2. The cause was not TLP: while a receiver
//! holds out-of-order data its data segments carry SACK blocks, and full segments were not
//! shortened for them (MUST-16), so they outgrew the 1500-byte MTU and the link dropped
//! every one — in both directions, for ever. TLP only changed the timing that got both ends
//! there. (`must_16_data_segments_with_sack_blocks_fit_the_mtu` is the rule test.)

mod api_support;
use api_support::*;
use synack::Config;
use synack_tun::device::memory::LinkConfig;

#[tokio::test(start_paused = true)]
async fn must_16_two_way_transfer_with_sack_blocks_and_tlp_under_three_percent_loss() {
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
    // Nothing was dropped for its size: every segment fit the MTU.
    assert_eq!(p.client_link.tx().dropped + p.server_link.tx().dropped, 0);
    assert!(p.client.counters().tail_loss_probes + p.server.counters().tail_loss_probes > 0);
}
