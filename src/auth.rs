//! Access keys and generated passwords: constant-time key checks that fail closed, and
//! secrets drawn from the OS random source.

use subtle::{Choice, ConstantTimeEq};

use crate::error::{Error, Result};

/// Random bytes in a generated access key (256 bits).
const KEY_BYTES: usize = 32;

/// Characters of generated passwords: letters, digits and symbols that need no escaping in a URL
/// query or a form body (RFC 3986 unreserved), so the password survives a CRM field round trip.
const PASSWORD_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~";
const PASSWORD_SYMBOLS: &[u8] = b"-_.~";

/// Shortest and longest password `generate_password` makes.
pub const MIN_PASSWORD_LEN: usize = 12;
pub const MAX_PASSWORD_LEN: usize = 256;

/// True when `given` equals `expected`. An empty (or whitespace) `expected` never matches: a site
/// without a configured key accepts nothing.
///
/// Timing: the loop always runs over every byte of `expected` and folds the results with
/// `subtle`, with no early exit on the first differing byte or on a length mismatch (missing bytes
/// of a shorter `given` compare as 0, and the lengths are compared in constant time too). The time
/// thus depends only on the expected key's length, which is public (generated keys are always 43
/// characters), and on the caller's own input.
pub fn verify_key(given: &str, expected: &str) -> bool {
    if expected.trim().is_empty() {
        return false;
    }
    let given = given.as_bytes();
    let expected = expected.as_bytes();
    let mut equal: Choice = (given.len() as u64).ct_eq(&(expected.len() as u64));
    for (i, e) in expected.iter().enumerate() {
        let g = given.get(i).copied().unwrap_or(0);
        equal &= g.ct_eq(e);
    }
    bool::from(equal)
}

/// A new access key: 32 random bytes as URL-safe base64 without padding (43 characters).
pub fn generate_key() -> Result<String> {
    let mut bytes = [0u8; KEY_BYTES];
    getrandom::fill(&mut bytes).map_err(|_| Error::Random)?;
    Ok(base64_url(&bytes))
}

/// A new user password of `len` characters (MIN_PASSWORD_LEN..=MAX_PASSWORD_LEN) from
/// `PASSWORD_ALPHABET`, with at least one upper-case letter, lower-case letter, digit and
/// symbol (some sites enforce that). Each character is chosen without modulo bias.
pub fn generate_password(len: usize) -> Result<String> {
    if !(MIN_PASSWORD_LEN..=MAX_PASSWORD_LEN).contains(&len) {
        return Err(Error::InvalidParameter("password_length"));
    }
    // Redraw the whole password until every class appears: the chance of a miss is tiny
    // (under 1% at 12 characters), and redrawing keeps every valid password equally likely.
    loop {
        let password = random_chars(len)?;
        let has = |class: fn(&u8) -> bool| password.iter().any(class);
        if has(u8::is_ascii_uppercase)
            && has(u8::is_ascii_lowercase)
            && has(u8::is_ascii_digit)
            && has(|b| PASSWORD_SYMBOLS.contains(b))
        {
            return Ok(password.into_iter().map(char::from).collect());
        }
    }
}

/// `len` characters from PASSWORD_ALPHABET by rejection sampling: a random byte is used only
/// when it falls below the largest multiple of the alphabet size, so `byte % size` is uniform.
fn random_chars(len: usize) -> Result<Vec<u8>> {
    let size = PASSWORD_ALPHABET.len();
    let limit = 256 - (256 % size);
    let mut out = Vec::with_capacity(len);
    let mut pool = [0u8; 64];
    while out.len() < len {
        getrandom::fill(&mut pool).map_err(|_| Error::Random)?;
        for &byte in pool.iter().filter(|&&b| usize::from(b) < limit) {
            if out.len() == len {
                break;
            }
            if let Some(&c) = PASSWORD_ALPHABET.get(usize::from(byte) % size) {
                out.push(c);
            }
        }
    }
    Ok(out)
}

/// RFC 4648 §5 base64url without padding.
fn base64_url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let sextet = |n: u32, shift: u32| char::from(ALPHABET[((n >> shift) & 63) as usize]);
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b0 = u32::from(chunk.first().copied().unwrap_or(0));
        let b1 = u32::from(chunk.get(1).copied().unwrap_or(0));
        let b2 = u32::from(chunk.get(2).copied().unwrap_or(0));
        let n = (b0 << 16) | (b1 << 8) | b2;
        out.push(sextet(n, 18));
        out.push(sextet(n, 12));
        if chunk.len() > 1 {
            out.push(sextet(n, 6));
        }
        if chunk.len() > 2 {
            out.push(sextet(n, 0));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn right_key_matches() {
        assert!(verify_key("s3cret-KEY_value", "s3cret-KEY_value"));
    }

    #[test]
    fn wrong_keys_do_not_match() {
        let expected = "abcdefghijklmnop";
        assert!(!verify_key("abcdefghijklmnoq", expected), "same length, last byte differs");
        assert!(!verify_key("Abcdefghijklmnop", expected), "first byte differs");
        assert!(!verify_key("abcdefghijklmno", expected), "one byte short");
        assert!(!verify_key("abcdefghijklmnopq", expected), "one byte long");
        assert!(!verify_key("", expected));
        assert!(!verify_key("abcdefghijklmno\0", expected), "NUL padding is not a match");
    }

    #[test]
    fn empty_expected_never_matches() {
        assert!(!verify_key("", ""));
        assert!(!verify_key("anything", ""));
        assert!(!verify_key("   ", "   "));
        assert!(!verify_key("\t\n", "\t\n"));
    }

    #[test]
    fn base64_url_matches_rfc4648_vectors() {
        // RFC 4648 §10 vectors, padding removed.
        assert_eq!(base64_url(b""), "");
        assert_eq!(base64_url(b"f"), "Zg");
        assert_eq!(base64_url(b"fo"), "Zm8");
        assert_eq!(base64_url(b"foo"), "Zm9v");
        assert_eq!(base64_url(b"foob"), "Zm9vYg");
        assert_eq!(base64_url(b"fooba"), "Zm9vYmE");
        assert_eq!(base64_url(b"foobar"), "Zm9vYmFy");
        // The URL-safe characters replace '+' and '/'.
        assert_eq!(base64_url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn generated_keys_are_url_safe_and_distinct() {
        let a = generate_key().unwrap();
        let b = generate_key().unwrap();
        assert_eq!(a.len(), 43);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_ne!(a, b);
        assert!(verify_key(&a, &a));
        assert!(!verify_key(&a, &b));
    }

    #[test]
    fn passwords_have_every_class_and_safe_characters() {
        for len in [MIN_PASSWORD_LEN, 24, MAX_PASSWORD_LEN] {
            let p = generate_password(len).unwrap();
            assert_eq!(p.len(), len);
            assert!(p.bytes().all(|c| PASSWORD_ALPHABET.contains(&c)));
            assert!(p.bytes().any(|c| c.is_ascii_uppercase()));
            assert!(p.bytes().any(|c| c.is_ascii_lowercase()));
            assert!(p.bytes().any(|c| c.is_ascii_digit()));
            assert!(p.bytes().any(|c| PASSWORD_SYMBOLS.contains(&c)));
        }
        assert_ne!(generate_password(24).unwrap(), generate_password(24).unwrap());
    }

    #[test]
    fn password_length_is_bounded() {
        assert_eq!(generate_password(0), Err(Error::InvalidParameter("password_length")));
        assert_eq!(generate_password(MIN_PASSWORD_LEN - 1), Err(Error::InvalidParameter("password_length")));
        assert_eq!(generate_password(MAX_PASSWORD_LEN + 1), Err(Error::InvalidParameter("password_length")));
    }

    #[test]
    fn password_characters_are_uniform() {
        // 66 symbols, 20 000 draws: each is expected ~303 times (sigma ~17). Bounds are about 7
        // sigma wide so the test cannot flake, yet a dead symbol would show.
        let chars = random_chars(20_000).unwrap();
        let mut counts = [0usize; 256];
        for &c in &chars {
            counts[usize::from(c)] += 1;
        }
        for &c in PASSWORD_ALPHABET {
            let n = counts[usize::from(c)];
            assert!((180..=430).contains(&n), "character {} drawn {} times", char::from(c), n);
        }
        // A plain `byte % 66` would favour the first 256 % 66 = 58 symbols: their share would be
        // 232/256 = 0.906 instead of 58/66 = 0.879 (sigma 0.0023 here).
        let favoured = PASSWORD_ALPHABET.get(..58).unwrap();
        let share = chars.iter().filter(|c| favoured.contains(c)).count() as f64 / chars.len() as f64;
        assert!((0.863..=0.895).contains(&share), "share {share}");
    }
}
