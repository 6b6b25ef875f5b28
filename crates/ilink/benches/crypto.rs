//! AES-128-ECB/PKCS#7 throughput of the media crypto, in bytes per second.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ilink::AesKey;

fn aes(c: &mut Criterion) {
    let key = AesKey::random();
    let mut group = c.benchmark_group("aes128_ecb");
    for size in [4 * 1024, 1024 * 1024, 20 * 1024 * 1024] {
        let plain = vec![0x5au8; size];
        let cipher = key.encrypt(&plain);
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("encrypt", size), &plain, |b, p| {
            b.iter(|| key.encrypt(p))
        });
        group.bench_with_input(BenchmarkId::new("decrypt", size), &cipher, |b, c| {
            b.iter(|| key.decrypt(c).expect("own ciphertext decrypts"))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = aes
}
criterion_main!(benches);
