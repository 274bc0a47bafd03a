//! Staff access-token verification (HS256), as every staff request and
//! socket pays it; signing for comparison.
//! Run: `cargo bench -p parley-benches --bench jwt`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use parley::auth::Tokens;
use parley_engine::permissions::Role;
use parley_engine::records::StaffRecord;
use parley_engine::*;
use std::hint::black_box;

fn jwt(c: &mut Criterion) {
    let tokens = Tokens::new(&[7u8; 32], 900);
    let staff = StaffRecord {
        id: StaffId::new(),
        tenant_id: TenantId::new(),
        email: "agent@bench.test".into(),
        name: "Agent".into(),
        role: Role::Agent,
        password_hash: String::new(),
        token_version: 1,
        active: true,
        created_at: Timestamp::now(),
    };
    let token = tokens.issue_staff(&staff, Some(parley_engine::SessionId::new()));
    let mut forged = token.clone();
    forged.pop();
    forged.push(if token.ends_with('A') { 'B' } else { 'A' });
    let mut g = c.benchmark_group("jwt");
    g.throughput(Throughput::Elements(1));
    g.bench_function("verify_staff", |b| {
        b.iter(|| assert!(tokens.verify_staff(black_box(&token)).is_some()))
    });
    g.bench_function("reject_forged", |b| {
        b.iter(|| assert!(tokens.verify_staff(black_box(&forged)).is_none()))
    });
    g.bench_function("issue_staff", |b| {
        b.iter(|| tokens.issue_staff(black_box(&staff), None))
    });
    g.finish();
}

criterion_group!(benches, jwt);
criterion_main!(benches);
