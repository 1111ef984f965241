//! UTC days as `YYYY-MM-DD`, the unit usage is kept in (no time zone: a day is the edge's
//! accounting period, the same for every relay and reader).

/// The UTC day of a Unix second.
pub fn of(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// A `YYYY-MM-DD` the way [`of`] writes it (checked by shape and range, not calendar).
pub fn parse(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let ok = b.len() == 10
        && digits(0..4)
        && b.get(4) == Some(&b'-')
        && digits(5..7)
        && b.get(7) == Some(&b'-')
        && digits(8..10)
        && s.get(5..7)
            .and_then(|m| m.parse::<u8>().ok())
            .is_some_and(|m| (1..=12).contains(&m))
        && s.get(8..10)
            .and_then(|d| d.parse::<u8>().ok())
            .is_some_and(|d| (1..=31).contains(&d));
    ok.then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days() {
        assert_eq!(of(0), "1970-01-01");
        assert_eq!(of(951_782_400), "2000-02-29");
        assert_eq!(of(1_800_000_000), "2027-01-15");
        assert_eq!(of(1_800_000_000 + 86_400 * 365), "2028-01-15");
        assert_eq!(of(4_107_542_399), "2100-02-28");
        assert_eq!(parse("2026-12-01"), Some("2026-12-01"));
        for bad in [
            "2026-13-01",
            "2026-1-01",
            "20261201",
            "2026-12-32",
            "abcd-ef-gh",
            "",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
