//! Seal, and open+validate, of a 64-byte token (20-byte mac_key) with a ready keyring.
//! Target: open+validate at most 1 microsecond on the project's 2-core machine.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure report

use criterion::{Criterion, criterion_group, criterion_main};
use shared_token::{Keyring, MacKeyProfile, MintRequest, Validation};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let ring = Keyring::from_json(
        r#"[{"kid":"a128","alg":"A128GCM","key":"MTIzNDU2Nzg5MDEyMzQ1Ngo="},
            {"kid":"a256","alg":"A256GCM","key":"MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEK"}]"#,
    )
    .expect("key file");
    let now = 1_800_000_000;
    let v = Validation::default();
    for kid in ["a256", "a128"] {
        let req = MintRequest {
            kid: Some(kid),
            server_name: "turn.example.com",
            lifetime: 3600,
            profile: MacKeyProfile::Sha1Coturn,
            now,
            account: None,
        };
        let m = ring.mint_with(&req, &[9; 32], &[3; 12]).expect("mint");
        assert_eq!(m.token.len(), 64);
        c.bench_function(&format!("open+validate 64-byte token ({kid})"), |b| {
            b.iter(|| {
                ring.open(
                    black_box(kid),
                    black_box(&m.token),
                    black_box(b"turn.example.com"),
                    now + 1,
                    &v,
                )
                .is_ok()
            })
        });
        c.bench_function(&format!("seal 64-byte token ({kid})"), |b| {
            b.iter(|| ring.mint_with(black_box(&req), &[9; 32], &[3; 12]).is_ok())
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
