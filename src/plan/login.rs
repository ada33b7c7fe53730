//! Email validity and the login of a new user.
//!
//! Logins are made from the same characters WordPress keeps when it strictly sanitizes a
//! login (`sanitize_user($login, true)`: ASCII letters, digits, space, `_ . - @`), so the login
//! the shim checks for collisions is the login WordPress stores.

use crate::settings::UsernameFormat;

/// `wp_users.user_login` is VARCHAR(60).
pub const MAX_LOGIN_LEN: usize = 60;
/// Generated logins leave room for the suffix the shim appends while a login is taken.
pub const MAX_GENERATED_LOGIN_LEN: usize = 50;
/// `wp_users.user_email` is VARCHAR(100).
pub const MAX_EMAIL_LEN: usize = 100;

/// Roughly WordPress's `is_email()`: `local@domain.tld`, local part of the characters it
/// allows, domain of at least two dot-separated labels of letters, digits and hyphens.
pub fn is_valid_email(email: &str) -> bool {
    if email.len() < 6 || email.len() > MAX_EMAIL_LEN {
        return false;
    }
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    let local_ok =
        !local.is_empty() && local.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~.-".contains(&b));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    local_ok && domain_ok
}

/// True when WordPress would store this login unchanged.
pub fn is_valid_login(login: &str) -> bool {
    !login.trim().is_empty()
        && login.len() <= MAX_LOGIN_LEN
        && login.trim() == login
        && !login.contains("  ")
        && login.bytes().all(is_login_byte)
}

fn is_login_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b' ' | b'_' | b'.' | b'-' | b'@')
}

/// The login for a new user from the site's username format. `email` must be valid.
/// Names keep only ASCII letters and digits, lowercased; when nothing usable is left the
/// email's local part is used, and `user` as a last resort.
pub fn generated_login(format: UsernameFormat, email: &str, first_name: &str, last_name: &str) -> String {
    match format {
        UsernameFormat::Email => {
            let login = keep_login_chars(email.trim());
            if !login.is_empty() && login.len() <= MAX_LOGIN_LEN {
                login
            } else {
                local_part_login(email)
            }
        }
        UsernameFormat::FirstLast => {
            let login = letters_and_digits(&format!("{first_name}{last_name}"));
            if login.is_empty() {
                local_part_login(email)
            } else {
                truncate(login, MAX_GENERATED_LOGIN_LEN)
            }
        }
        UsernameFormat::FirstNumber => {
            let first = letters_and_digits(first_name);
            let base = if first.is_empty() { local_part_login(email) } else { first };
            format!("{}1", truncate(base, MAX_GENERATED_LOGIN_LEN - 1))
        }
    }
}

/// `crmh_login_choose` input: the plan's login, how it counts on, and the existing logins that
/// share its stem (the shim reads them with `LIKE 'stem%'`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, Default)]
#[serde(default)]
pub struct LoginChoice {
    pub user_login: String,
    pub login_numbered: bool,
    #[serde(deserialize_with = "crate::diff::php_json::list")]
    pub taken: Vec<String>,
}

/// What every candidate login starts with: the login, or for a numbered one (`jane1`) the login
/// without its trailing number.
pub fn login_stem(login: &str, numbered: bool) -> &str {
    let stem = login.trim_end_matches(|c: char| c.is_ascii_digit());
    if numbered && !stem.is_empty() && stem.len() < login.len() {
        stem
    } else {
        login
    }
}

/// The first free login (WordPress compares logins case-insensitively): the login itself, then
/// with 2, 3, .. appended (WP Fusion's behaviour). A numbered login (username format "first
/// name + number": `jane1`) counts on instead: `jane2`, `jane3`.
pub fn unique_login(choice: &LoginChoice) -> String {
    let login = choice.user_login.trim();
    let login = if login.is_empty() { "user" } else { login };
    let taken: std::collections::HashSet<String> = choice.taken.iter().map(|t| t.trim().to_ascii_lowercase()).collect();
    let is_free = |candidate: &str| !taken.contains(&candidate.to_ascii_lowercase());
    let stem = login_stem(login, choice.login_numbered);
    let mut n: u64 = if stem.len() < login.len() { login[stem.len()..].parse().unwrap_or(1) } else { 1 };
    if is_free(login) {
        return login.to_string();
    }
    loop {
        n = n.saturating_add(1);
        let candidate = format!("{stem}{n}");
        if is_free(&candidate) || n == u64::MAX {
            return candidate;
        }
    }
}

fn local_part_login(email: &str) -> String {
    let local = email.split('@').next().unwrap_or("");
    let login = keep_login_chars(local).to_ascii_lowercase();
    let login = login.trim_matches(|c| c == '.' || c == '-' || c == ' ').to_string();
    if login.is_empty() {
        "user".into()
    } else {
        truncate(login, MAX_GENERATED_LOGIN_LEN)
    }
}

fn keep_login_chars(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii() && is_login_byte(*c as u8) && *c != ' ').collect()
}

fn letters_and_digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect()
}

/// Logins are ASCII here, so any byte index is a char boundary.
fn truncate(mut s: String, max: usize) -> String {
    s.truncate(max.min(s.len()));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for ok in ["jane.doe@example.com", "a+b@x.io", "o'neil@sub.example.co.uk", "J_D@EXAMPLE.COM"] {
            assert!(is_valid_email(ok), "{ok}");
        }
        for bad in [
            "",
            "jane",
            "@example.com",
            "jane@",
            "jane@example",
            "jane@@example.com",
            "jane doe@example.com",
            "jane@exa mple.com",
            "jane@example..com",
            "jane@-example.com",
            "jane@example.com\n",
            "jané@example.com",
            "a@b.c\0",
            "j@x.c",
        ] {
            assert!(!is_valid_email(bad), "{bad:?}");
        }
        assert!(!is_valid_email(&format!("{}@example.com", "a".repeat(90))));
    }

    #[test]
    fn logins() {
        assert!(is_valid_login("jane.doe@example.com"));
        assert!(is_valid_login("Jane Doe"));
        assert!(!is_valid_login(""));
        assert!(!is_valid_login("  "));
        assert!(!is_valid_login(" jane"));
        assert!(!is_valid_login("jane  doe"));
        assert!(!is_valid_login("jane+x"));
        assert!(!is_valid_login("jané"));
        assert!(!is_valid_login("<script>"));
        assert!(!is_valid_login(&"a".repeat(61)));
        assert!(is_valid_login(&"a".repeat(60)));
    }

    #[test]
    fn email_format_uses_the_email_without_characters_wordpress_strips() {
        assert_eq!(generated_login(UsernameFormat::Email, "jane.doe@example.com", "", ""), "jane.doe@example.com");
        assert_eq!(generated_login(UsernameFormat::Email, "jane+vip@example.com", "", ""), "janevip@example.com");
        let long = format!("{}@example.com", "a".repeat(55));
        assert_eq!(generated_login(UsernameFormat::Email, &long, "", ""), "a".repeat(50));
    }

    #[test]
    fn first_last_format() {
        assert_eq!(generated_login(UsernameFormat::FirstLast, "j@example.com", "Jane", "Doe"), "janedoe");
        assert_eq!(generated_login(UsernameFormat::FirstLast, "j@example.com", "Mary-Jo ", "O'Neil 2"), "maryjooneil2");
        assert_eq!(generated_login(UsernameFormat::FirstLast, "jo.x+1@example.com", "", ""), "jo.x1");
        assert_eq!(generated_login(UsernameFormat::FirstLast, "jo@example.com", "Łukasz", ""), "ukasz");
        assert_eq!(generated_login(UsernameFormat::FirstLast, "jo@example.com", "张", "伟"), "jo");
        assert_eq!(generated_login(UsernameFormat::FirstLast, "+++@example.com", "", ""), "user");
        assert_eq!(generated_login(UsernameFormat::FirstLast, "j@example.com", &"x".repeat(80), "").len(), 50);
    }

    #[test]
    fn unique_logins_count_on_past_taken_ones() {
        let choose = |login: &str, numbered: bool, taken: &[&str]| {
            unique_login(&LoginChoice {
                user_login: login.into(),
                login_numbered: numbered,
                taken: taken.iter().map(|t| t.to_string()).collect(),
            })
        };
        assert_eq!(choose("jane@example.com", false, &[]), "jane@example.com");
        assert_eq!(choose("jane@example.com", false, &["JANE@example.com"]), "jane@example.com2", "case-insensitive");
        assert_eq!(choose("janedoe", false, &["janedoe", "janedoe2"]), "janedoe3");
        assert_eq!(choose("jane1", true, &["jane1", "jane2"]), "jane3", "a numbered login counts on");
        assert_eq!(choose("jane1", true, &["jane"]), "jane1");
        assert_eq!(choose("agent007", false, &["agent007"]), "agent0072", "only numbered logins count on");
        assert_eq!(choose("2024", true, &["2024"]), "20242", "all digits: no stem to count on");
        assert_eq!(choose(" ", false, &["user"]), "user2");
        assert_eq!(login_stem("jane12", true), "jane");
        assert_eq!(login_stem("jane12", false), "jane12");
    }

    #[test]
    fn first_number_format() {
        assert_eq!(generated_login(UsernameFormat::FirstNumber, "j@example.com", "Jane", "Doe"), "jane1");
        assert_eq!(generated_login(UsernameFormat::FirstNumber, "jane.d@example.com", " ", "Doe"), "jane.d1");
        assert_eq!(generated_login(UsernameFormat::FirstNumber, "j@example.com", &"x".repeat(80), "").len(), 50);
    }
}
