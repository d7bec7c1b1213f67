//! A small deterministic mutator for the smoke test: the coverage-guided
//! runs use libFuzzer's; this one only has to reach past the seeds cheaply
//! and the same way every run.

/// Mutates seed inputs with a seeded xorshift generator.
#[derive(Debug, Clone)]
pub struct Mutator {
    state: u64,
}

/// Bytes that tend to matter to TOML, JSON, URIs and the checks on them.
const INTERESTING: &[&[u8]] = &[
    b"\0",
    b"\n",
    b"\r\n",
    b"\"",
    b"'",
    b"\\",
    b"[",
    b"]",
    b"{",
    b"}",
    b"=",
    b",",
    b":",
    b"/",
    b"@",
    b"%",
    b".",
    b"*",
    b"+",
    b"-",
    b"_",
    b"#",
    b"?",
    b"~",
    b"${",
    b"0",
    b"-1",
    b"18446744073709551615",
    b"4294967296",
    b"1e400",
    b"true",
    b"null",
    b"\xff",
    b"\xc3\xa9",
    b"[::ffff:127.0.0.1]",
    b"0x7f.1",
    b"localhost",
    b"..",
    b"GiB",
    b"ms",
    b"\"\"\"",
];

impl Mutator {
    /// A mutator whose output depends only on `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
        }
    }

    fn next(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    /// A few random edits of `input`, sometimes spliced with `other`.
    pub fn mutate(&mut self, input: &[u8], other: &[u8]) -> Vec<u8> {
        let mut out = input.to_vec();
        for _ in 0..=self.below(4) {
            let at = self.below(out.len() + 1);
            match self.below(7) {
                0 if !out.is_empty() => {
                    let i = self.below(out.len());
                    out[i] ^= 1 << self.below(8);
                }
                1 => {
                    let token = INTERESTING[self.below(INTERESTING.len())];
                    out.splice(at..at, token.iter().copied());
                }
                2 if !out.is_empty() => {
                    let end = (at + 1 + self.below(16)).min(out.len());
                    out.drain(at.min(end)..end);
                }
                3 if !out.is_empty() => {
                    let start = self.below(out.len());
                    let end = (start + 1 + self.below(32)).min(out.len());
                    let copy = out[start..end].to_vec();
                    out.splice(at..at, copy);
                }
                4 if !other.is_empty() => {
                    let start = self.below(other.len());
                    let end = (start + 1 + self.below(64)).min(other.len());
                    out.splice(at..at, other[start..end].iter().copied());
                }
                5 if !out.is_empty() => {
                    let i = self.below(out.len());
                    out[i] = self.next() as u8;
                }
                _ => {
                    let token = INTERESTING[self.below(INTERESTING.len())];
                    let end = (at + token.len()).min(out.len());
                    out.splice(at..end, token.iter().copied());
                }
            }
        }
        out
    }
}
