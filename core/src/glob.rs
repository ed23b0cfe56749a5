//! Redis's glob matching (`stringmatchlen` in `util.c`), used by KEYS, SCAN MATCH and PUBSUB.
//!
//! Written here rather than taken from a crate because the rules must be Redis's byte for byte:
//! `*`, `?`, `[abc]`, `[^a-z]`, `\x` escapes, on bytes rather than characters.

/// Whether `string` matches `pattern`.
pub fn matches(pattern: &[u8], string: &[u8]) -> bool {
    let mut skip_longer = false;
    match_impl(pattern, string, &mut skip_longer, 0)
}

/// A literal port of `stringmatchlen_impl`; `at` reads past the end as NUL, as the C code may.
fn match_impl(pat: &[u8], string: &[u8], skip_longer: &mut bool, nesting: usize) -> bool {
    if nesting > 1000 {
        return false;
    }
    let at = |i: usize| pat.get(i).copied().unwrap_or(0);
    let (mut p, mut s) = (0usize, 0usize);
    while p < pat.len() && s < string.len() {
        match pat[p] {
            b'*' => {
                while p < pat.len() && at(p + 1) == b'*' {
                    p += 1;
                }
                if pat.len() - p == 1 {
                    return true;
                }
                while s < string.len() {
                    if match_impl(&pat[p + 1..], &string[s..], skip_longer, nesting + 1) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    s += 1;
                }
                *skip_longer = true;
                return false;
            }
            b'?' => s += 1,
            b'[' => {
                p += 1;
                let not = at(p) == b'^';
                if not {
                    p += 1;
                }
                let c = string[s];
                let mut matched = false;
                loop {
                    let left = pat.len().saturating_sub(p);
                    if at(p) == b'\\' && left >= 2 {
                        p += 1;
                        if at(p) == c {
                            matched = true;
                        }
                    } else if at(p) == b']' {
                        break;
                    } else if left == 0 {
                        p -= 1;
                        break;
                    } else if left >= 3 && at(p + 1) == b'-' {
                        let (mut lo, mut hi) = (at(p), at(p + 2));
                        if lo > hi {
                            std::mem::swap(&mut lo, &mut hi);
                        }
                        p += 2;
                        if c >= lo && c <= hi {
                            matched = true;
                        }
                    } else if at(p) == c {
                        matched = true;
                    }
                    p += 1;
                }
                if not {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                s += 1;
            }
            b'\\' => {
                if pat.len() - p >= 2 {
                    p += 1;
                }
                if pat[p] != string[s] {
                    return false;
                }
                s += 1;
            }
            other => {
                if other != string[s] {
                    return false;
                }
                s += 1;
            }
        }
        p += 1;
        if s == string.len() {
            while at(p) == b'*' && p < pat.len() {
                p += 1;
            }
            break;
        }
    }
    p >= pat.len() && s == string.len()
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn glob_follows_redis_rules() {
        let yes: &[(&str, &str)] = &[
            ("*", "anything"),
            ("h?llo", "hello"),
            ("h*llo", "heeeello"),
            ("h[ae]llo", "hallo"),
            ("h[^e]llo", "hallo"),
            ("h[a-b]llo", "hbllo"),
            ("h\\*llo", "h*llo"),
            ("user:*:name", "user:42:name"),
            ("a*b*c", "aXbYc"),
        ];
        for (p, s) in yes {
            assert!(matches(p.as_bytes(), s.as_bytes()), "{p} should match {s}");
        }
        let no: &[(&str, &str)] = &[
            ("h?llo", "hllo"),
            ("h[ae]llo", "hillo"),
            ("h[^e]llo", "hello"),
            ("h[a-b]llo", "hcllo"),
            ("a*b", "acd"),
            ("", "x"),
            // As in Redis, a bare `*` does not match the empty string (KEYS and SCAN special-case it).
            ("*", ""),
        ];
        for (p, s) in no {
            assert!(
                !matches(p.as_bytes(), s.as_bytes()),
                "{p} should not match {s}"
            );
        }
    }
}
