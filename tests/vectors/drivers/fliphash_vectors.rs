//! Writes FlipHash test vectors (JSON on stdout) by calling Datadog's fliphash-rs.
//!
//! Build and run: see README.md in this directory. This file holds no code of the
//! reference; it only calls `fliphash::fliphash_64` and `fliphash::fliphash_64_with_seed`.

use fliphash::{fliphash_64, fliphash_64_with_seed};

/// The driver's own key source (SplitMix64, Steele et al. 2014), so the vectors do not
/// depend on any crate beyond the reference.
struct KeySource(u64);

impl KeySource {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn join(values: &[u64]) -> String {
    values.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(",")
}

fn main() {
    let mut source = KeySource(0x5EED_F11F);
    let mut keys: Vec<u64> = vec![
        0,
        1,
        2,
        3,
        0xDEAD_BEEF,
        10427592028180905159,
        15960427081186311679,
        (1 << 32) - 1,
        1 << 32,
        (1 << 63) - 1,
        1 << 63,
        u64::MAX - 1,
        u64::MAX,
    ];
    while keys.len() < 24 {
        keys.push(source.next());
    }
    // range ends (n - 1): small, powers of two and their neighbours, 2**31 - 1 buckets,
    // and the top of the u64 range.
    let range_ends: Vec<u64> = vec![
        0,
        1,
        2,
        3,
        4,
        6,
        7,
        8,
        15,
        16,
        17,
        99,
        999,
        1000,
        1023,
        1024,
        65535,
        (1 << 31) - 2,
        (1 << 31) - 1,
        1 << 32,
        (1 << 53) + 1,
        1 << 63,
        u64::MAX,
    ];
    let seeds: Vec<u64> = vec![0, 1, 0xDEAD_BEEF, u64::MAX];

    let mut grid = Vec::new();
    for &seed in &seeds {
        let mut rows = Vec::new();
        for &key in &keys {
            let mut row = Vec::new();
            for &end in &range_ends {
                let h = fliphash_64_with_seed(key, seed, ..=end);
                if seed == 0 {
                    assert_eq!(h, fliphash_64(key, ..=end));
                }
                row.push(h);
            }
            rows.push(format!("[{}]", join(&row)));
        }
        grid.push(format!("[{}]", rows.join(",\n  ")));
    }

    // Random (key, seed, range end) triples, range ends spread over all bit lengths.
    let mut triples = Vec::new();
    for i in 0..1500u64 {
        let key = source.next();
        let seed = if i % 3 == 0 { 0 } else { source.next() };
        let bits = (source.next() % 64) as u32 + 1;
        let end = source.next() >> (64 - bits);
        let h = fliphash_64_with_seed(key, seed, ..=end);
        triples.push(format!("[{},{},{},{}]", key, seed, end, h));
    }

    println!("{{");
    println!("\"reference\": \"DataDog/fliphash-rs 00c0ad0 (crate fliphash 0.1.0): fliphash_64_with_seed(key, seed, ..=range_end)\",");
    println!("\"keys\": [{}],", join(&keys));
    println!("\"range_ends\": [{}],", join(&range_ends));
    println!("\"seeds\": [{}],", join(&seeds));
    println!("\"grid_seed_key_range\": [\n  {}],", grid.join(",\n  "));
    println!("\"key_seed_range_end_hash\": [\n  {}]", triples.join(",\n  "));
    println!("}}");
}
