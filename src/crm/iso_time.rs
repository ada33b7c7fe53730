//! ISO-8601 times as ActiveCampaign writes them (`2024-02-28T07:04:13-06:00`) and reads them
//! in list filters. Only times with a zone are read: a time without one names no instant.

use super::http::days_from_civil;

/// Unix seconds as `YYYY-MM-DDTHH:MM:SS+00:00` (UTC, with the zone spelled out so the CRM
/// cannot read it in the account's own zone).
pub fn format_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rest = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}+00:00", rest / 3_600, rest / 60 % 60, rest % 60)
}

/// `YYYY-MM-DD[T ]HH:MM:SS[.fraction](Z|±HH:MM|±HHMM)` -> Unix seconds (fractions dropped).
/// `None` for anything else: no zone, a zeroed date (`0000-00-00`), a time before 1970, or a
/// year past 9999.
pub fn parse(text: &str) -> Option<u64> {
    let text = text.trim();
    // ASCII only, so every slice below falls on a character boundary.
    if !text.is_ascii() {
        return None;
    }
    let date = text.get(..10)?;
    let separator = text.get(10..11)?;
    if separator != "T" && separator != " " {
        return None;
    }
    let time = text.get(11..19)?;
    let mut zone = text.get(19..)?;
    if let Some(fraction) = zone.strip_prefix('.') {
        let digits = fraction.chars().take_while(char::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        zone = &fraction[digits..];
    }
    let (year, month, day) = (number(&date[0..4])?, number(&date[5..7])?, number(&date[8..10])?);
    if &date[4..5] != "-" || &date[7..8] != "-" || &time[2..3] != ":" || &time[5..6] != ":" {
        return None;
    }
    let (hour, minute, second) = (number(&time[0..2])?, number(&time[3..5])?, number(&time[6..8])?);
    if !(1970..=9999).contains(&year)
        || !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let local = days_from_civil(year, month, day)? * 86_400 + hour * 3_600 + minute * 60 + second;
    u64::try_from(local - zone_offset_secs(zone)?).ok()
}

/// `Z`, `±HH:MM` or `±HHMM` -> seconds east of UTC.
fn zone_offset_secs(zone: &str) -> Option<i64> {
    if zone == "Z" {
        return Some(0);
    }
    let sign = match zone.get(..1)? {
        "+" => 1,
        "-" => -1,
        _ => return None,
    };
    let digits: String = zone[1..].chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || (zone.len() == 6 && zone.get(3..4) != Some(":")) || !matches!(zone.len(), 5 | 6) {
        return None;
    }
    let (hours, minutes) = (number(&digits[..2])?, number(&digits[2..])?);
    if hours > 14 || minutes > 59 {
        return None;
    }
    Some(sign * (hours * 3_600 + minutes * 60))
}

/// ASCII digits only (no sign, no space) as a number.
fn number(digits: &str) -> Option<i64> {
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The civil date of a day count since 1970-01-01 (Howard Hinnant's algorithm, the inverse of
/// `days_from_civil`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activecampaign_times_with_a_zone_are_read() {
        // 2024-02-28T13:04:13Z
        let utc = 1_709_125_453;
        assert_eq!(parse("2024-02-28T07:04:13-06:00"), Some(utc));
        assert_eq!(parse("2024-02-28T13:04:13+00:00"), Some(utc));
        assert_eq!(parse("2024-02-28T13:04:13Z"), Some(utc));
        assert_eq!(parse("2024-02-28 14:04:13+0100"), Some(utc));
        assert_eq!(parse("2024-02-28T13:04:13.987Z"), Some(utc));
        assert_eq!(parse("1970-01-01T00:00:00Z"), Some(0));
    }

    #[test]
    fn times_without_a_zone_or_malformed_are_not_read() {
        for bad in [
            "",
            "2024-02-28",
            "2024-02-28 13:04:13",
            "0000-00-00 00:00:00",
            "2024-13-28T13:04:13Z",
            "2024-02-28T24:04:13Z",
            "2024-02-28T13:04:13+15:00",
            "2024-02-28T13:04:13+1:00",
            "2024-02-28T13:04:13.Z",
            "2024-02-28X13:04:13Z",
            "1969-12-31T23:59:59Z",
            "1970-01-01T00:00:00+01:00",
            "+024-02-28T13:04:13Z",
            "2024-02-28T13:04:13ZZ",
            "2024-02-28T1ä:04:13Z",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn format_and_parse_round_trip() {
        for secs in [0, 59, 86_399, 86_400, 951_782_400, 1_709_125_453, 4_102_444_800, 253_402_300_799] {
            let text = format_utc(secs);
            assert_eq!(parse(&text), Some(secs), "{text}");
        }
        assert_eq!(format_utc(1_709_125_453), "2024-02-28T13:04:13+00:00");
        assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00+00:00");
    }
}
