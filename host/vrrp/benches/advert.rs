//! Per-advert cost: decode + validate + state-machine step for a received
//! advert (a backup following its master), and encode for a sent one.
//!
//! Run with `cargo bench -p holdfast-vrrp`. The target is at least
//! 5 million received adverts per second per core (200 ns each).

use std::hint::black_box;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use holdfast_vrrp::packet::MULTICAST_V4;
use holdfast_vrrp::{Advertisement, ChecksumForm, Instance, InstanceConfig, Received, State};

fn backup_following_master() -> (Instance, Vec<u8>, IpAddr, IpAddr) {
    let vip: IpAddr = "192.0.2.254".parse().unwrap();
    let mut backup = Instance::new(
        InstanceConfig::new(51, vec![vip]),
        "192.0.2.2".parse().unwrap(),
    );
    backup.startup(Instant::now());
    while backup.poll_action().is_some() {}
    let master = {
        let mut c = InstanceConfig::new(51, vec![vip]);
        c.priority = 150;
        Instance::new(c, "192.0.2.1".parse().unwrap())
    };
    let src: IpAddr = "192.0.2.1".parse().unwrap();
    let dst = IpAddr::V4(MULTICAST_V4);
    let bytes = master
        .advertisement(150)
        .encode(src, dst, ChecksumForm::Standard);
    (backup, bytes, src, dst)
}

fn received(c: &mut Criterion) {
    let (mut backup, bytes, src, dst) = backup_following_master();
    let start = Instant::now();
    let mut now = start;
    let mut group = c.benchmark_group("vrrp");
    group.throughput(Throughput::Elements(1));
    group.bench_function("receive advert (decode + validate + fsm)", |b| {
        b.iter(|| {
            now += Duration::from_millis(10);
            let rx = Received {
                src,
                dst,
                ttl: 255,
                payload: black_box(&bytes),
            };
            let _ = backup.handle_packet(now, rx);
            // A follower produces no actions; draining keeps the queue honest.
            while backup.poll_action().is_some() {}
        });
    });
    assert_eq!(
        backup.state(),
        State::Backup,
        "the backup must have followed every advert"
    );
    assert_eq!(backup.stats().errors(), 0);

    let master = {
        let mut c = InstanceConfig::new(51, vec!["192.0.2.254".parse().unwrap()]);
        c.priority = 150;
        Instance::new(c, src)
    };
    let advert: Advertisement = master.advertisement(150);
    let mut buf = Vec::with_capacity(64);
    group.bench_function("send advert (encode)", |b| {
        b.iter(|| {
            black_box(&advert).encode_into(&mut buf, src, dst, ChecksumForm::Standard);
            black_box(&buf);
        });
    });
    group.bench_function("decode only", |b| {
        b.iter(|| Advertisement::decode(black_box(&bytes), src, dst));
    });
    group.finish();
}

criterion_group!(benches, received);
criterion_main!(benches);
