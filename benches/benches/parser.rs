//! Request parsing throughput: the C parser and the Rust parser on the same requests, one run.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use diskdb_benches::parser_fixtures;
use diskdb_core::protocol::{parse_request_with, Limits, ParserKind};

fn parsers(c: &mut Criterion) {
    let limits = Limits::default();
    let mut group = c.benchmark_group("parse");
    for (name, bytes) in parser_fixtures() {
        group.throughput(Throughput::Elements(1));
        for kind in [ParserKind::C, ParserKind::Rust] {
            group.bench_function(format!("{name}/{kind:?}"), |b| {
                b.iter(|| {
                    let request = parse_request_with(kind, black_box(&bytes), &limits)
                        .expect("valid")
                        .expect("complete");
                    black_box(request.get(request.len() - 1).len())
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, parsers);
criterion_main!(benches);
