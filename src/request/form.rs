//! Request parameters as PHP sees them: `contact[fields][39]=Gold` becomes the path
//! `["contact", "fields", "39"]` with the value `Gold`. Keys stay strings (never array indexes)
//! and the last value for a path wins, as in PHP's `$_POST`.

use std::collections::BTreeMap;

/// Most bracket levels a key may have (`a[1][2]...[8]`). Deeper keys are dropped, as PHP drops
/// keys deeper than `max_input_nesting_level`; the cap keeps hostile keys from costing more than
/// one linear scan.
pub const MAX_DEPTH: usize = 8;

/// Parameters by path. Built from a form body or query string, or from a JSON object.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Params {
    values: BTreeMap<Vec<String>, String>,
}

impl Params {
    /// Decode `application/x-www-form-urlencoded` input (`+` is a space). Decoding is lossy, as
    /// `form_urlencoded` is: a truncated or invalid escape (`%`, `%4`, `%zz`) stays literal, and
    /// escapes that decode to invalid UTF-8 (`%FF`) become U+FFFD.
    pub fn from_urlencoded(input: &[u8]) -> Params {
        let mut params = Params::default();
        for (key, value) in form_urlencoded::parse(input) {
            if let Some(path) = split_key(&key) {
                params.insert(path, value.into_owned());
            }
        }
        params
    }

    /// Set the value for a path; a later insert replaces an earlier one (last wins).
    pub fn insert(&mut self, path: Vec<String>, value: String) {
        self.values.insert(path, value);
    }

    /// The value at exactly this path.
    pub fn get(&self, path: &[&str]) -> Option<&str> {
        let key: Vec<String> = path.iter().map(|s| (*s).to_string()).collect();
        self.values.get(&key).map(String::as_str)
    }

    /// The direct children of `prefix` that hold values: `contact[fields][KEY]` for
    /// `["contact", "fields"]` yields `(KEY, value)`.
    pub fn children<'a>(&'a self, prefix: &'a [&'a str]) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.values.iter().filter_map(move |(path, value)| {
            let (last, parent) = path.split_last()?;
            let same_parent = parent.len() == prefix.len() && parent.iter().zip(prefix).all(|(a, b)| a == b);
            same_parent.then_some((last.as_str(), value.as_str()))
        })
    }

    /// True when any key or value holds a NUL character (from `%00` or a raw NUL byte).
    pub fn contains_nul(&self) -> bool {
        self.values
            .iter()
            .any(|(path, value)| value.contains('\0') || path.iter().any(|segment| segment.contains('\0')))
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// Refuse input whose bytes, after percent-decoding, are not UTF-8 (`from_urlencoded` would
/// quietly turn them into U+FFFD). The error names the parameter when its name is plain
/// (`contact[first_name]`), else `source` (`query` or `body`).
pub fn check_utf8(input: &[u8], source: &str) -> Result<(), crate::error::Error> {
    for pair in input.split(|&b| b == b'&') {
        let mut halves = pair.splitn(2, |&b| b == b'=');
        let key = percent_decode(halves.next().unwrap_or_default());
        let value = percent_decode(halves.next().unwrap_or_default());
        let Ok(key) = String::from_utf8(key) else {
            return Err(crate::error::Error::NotUtf8(source.to_string()));
        };
        if std::str::from_utf8(&value).is_err() {
            let plain = !key.is_empty()
                && key.len() <= 64
                && key.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-[]".contains(&b));
            return Err(crate::error::Error::NotUtf8(if plain { key } else { source.to_string() }));
        }
    }
    Ok(())
}

/// `+` is a space, `%XX` a byte; a malformed escape stays literal (as `form_urlencoded` does).
fn percent_decode(input: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        match (b, input.get(i + 1).copied().and_then(hex), input.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// Split a decoded key into its path the way PHP does: `name[a][b]` -> `[name, a, b]`.
/// `None` for an empty name or more than `MAX_DEPTH` bracket levels (the key is dropped).
/// A first `[` without a closing `]` makes the whole key a plain name; text after the last
/// complete `[...]` is ignored. Iterative, so nesting depth never grows the stack.
pub fn split_key(key: &str) -> Option<Vec<String>> {
    let Some(open) = key.find('[') else {
        return (!key.is_empty()).then(|| vec![key.to_string()]);
    };
    let name = &key[..open];
    if name.is_empty() {
        return None;
    }
    let mut rest = &key[open..];
    if !rest[1..].contains(']') {
        return Some(vec![key.to_string()]);
    }
    let mut path = vec![name.to_string()];
    while let Some(inner) = rest.strip_prefix('[') {
        let Some(close) = inner.find(']') else { break };
        if path.len() > MAX_DEPTH {
            return None;
        }
        path.push(inner[..close].to_string());
        rest = &inner[close + 1..];
    }
    Some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &[&str]) -> Option<Vec<String>> {
        Some(p.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn splits_bracket_keys_into_string_segments() {
        assert_eq!(split_key("type"), path(&["type"]));
        assert_eq!(split_key("contact[id]"), path(&["contact", "id"]));
        assert_eq!(split_key("contact[fields][39]"), path(&["contact", "fields", "39"]));
        assert_eq!(split_key("contact[fields][utm_source]"), path(&["contact", "fields", "utm_source"]));
        assert_eq!(split_key("a[]"), path(&["a", ""]));
    }

    #[test]
    fn odd_keys_follow_php() {
        assert_eq!(split_key(""), None);
        assert_eq!(split_key("[id]"), None);
        assert_eq!(split_key("contact[id"), path(&["contact[id"]));
        assert_eq!(split_key("contact[id]junk"), path(&["contact", "id"]));
        assert_eq!(split_key("a[b[c]]"), path(&["a", "b[c"]));
        assert_eq!(split_key("a[b][c"), path(&["a", "b"]));
    }

    #[test]
    fn depth_is_capped() {
        let eight = format!("a{}", "[x]".repeat(MAX_DEPTH));
        assert_eq!(split_key(&eight).map(|p| p.len()), Some(MAX_DEPTH + 1));
        let nine = format!("a{}", "[x]".repeat(MAX_DEPTH + 1));
        assert_eq!(split_key(&nine), None);
        let deep = format!("a{}", "[x]".repeat(10_000));
        assert_eq!(split_key(&deep), None);
        let unclosed = format!("a{}", "[".repeat(10_000));
        assert_eq!(split_key(&unclosed), Some(vec![unclosed.clone()]));
        let nested = format!("a{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(split_key(&nested).map(|p| p.len()), Some(2));
    }

    #[test]
    fn decodes_and_last_value_wins() {
        let p = Params::from_urlencoded(b"a=1&contact%5Bid%5D=42&a=2&b=x+y%21&empty=&bare");
        assert_eq!(p.get(&["a"]), Some("2"));
        assert_eq!(p.get(&["contact", "id"]), Some("42"));
        assert_eq!(p.get(&["b"]), Some("x y!"));
        assert_eq!(p.get(&["empty"]), Some(""));
        assert_eq!(p.get(&["bare"]), Some(""));
        assert_eq!(p.get(&["missing"]), None);
    }

    #[test]
    fn bad_escapes_are_kept_literally() {
        let p = Params::from_urlencoded(b"a=%&b=%4&c=%zz&d=100%25&e=%FF");
        assert_eq!(p.get(&["a"]), Some("%"));
        assert_eq!(p.get(&["b"]), Some("%4"));
        assert_eq!(p.get(&["c"]), Some("%zz"));
        assert_eq!(p.get(&["d"]), Some("100%"));
        assert_eq!(p.get(&["e"]), Some("\u{FFFD}"));
    }

    #[test]
    fn children_lists_one_level() {
        let p = Params::from_urlencoded(b"contact[fields][1]=Gold&contact[fields][x][y]=deep&contact[id]=4&fields=no");
        let children: Vec<_> = p.children(&["contact", "fields"]).collect();
        assert_eq!(children, vec![("1", "Gold")]);
    }

    #[test]
    fn finds_nul_in_keys_and_values() {
        assert!(!Params::from_urlencoded(b"a=1").contains_nul());
        assert!(Params::from_urlencoded(b"a=%00").contains_nul());
        assert!(Params::from_urlencoded(b"a%00=1").contains_nul());
        assert!(Params::from_urlencoded(b"a=x\0y").contains_nul());
    }
}
