//! The sizes and durations of route attributes, such as `body_limit = "100 MiB"` and
//! `timeout = "30 s"`, parsed at compile time into bytes and milliseconds.

/// The size units, with their factor in bytes.
const SIZES: [(&str, u64); 7] = [
    ("B", 1),
    ("KB", 1000),
    ("MB", 1000 * 1000),
    ("GB", 1000 * 1000 * 1000),
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
];

/// The duration units, with their factor in milliseconds.
const DURATIONS: [(&str, u64); 4] = [("ms", 1), ("s", 1000), ("min", 60 * 1000), ("h", 60 * 60 * 1000)];

/// A size such as `100 MiB`, `512 KB` or `1024` (bytes), in bytes.
pub(crate) fn parse_size(text: &str) -> Result<u64, String> {
    let expected = || {
        let units: Vec<_> = SIZES.iter().map(|(u, _)| *u).collect();
        format!(
            "invalid size \"{text}\": expected a whole number and a unit, as in \"100 MiB\" (units: {})",
            units.join(", ")
        )
    };
    let (number, unit) = split(text).ok_or_else(expected)?;
    let factor = match unit {
        "" => 1,
        unit => SIZES.iter().find(|(u, _)| *u == unit).map(|(_, f)| *f).ok_or_else(expected)?,
    };
    number.checked_mul(factor).ok_or_else(|| format!("the size \"{text}\" is too large"))
}

/// A duration such as `30 s`, `500 ms`, `2 min` or `1 h`, in milliseconds; never zero.
pub(crate) fn parse_duration(text: &str) -> Result<u64, String> {
    let expected = || {
        let units: Vec<_> = DURATIONS.iter().map(|(u, _)| *u).collect();
        format!(
            "invalid duration \"{text}\": expected a whole number and a unit, as in \"30 s\" (units: {})",
            units.join(", ")
        )
    };
    let (number, unit) = split(text).ok_or_else(expected)?;
    let factor = DURATIONS.iter().find(|(u, _)| *u == unit).map(|(_, f)| *f).ok_or_else(expected)?;
    let ms = number.checked_mul(factor).ok_or_else(|| format!("the duration \"{text}\" is too long"))?;
    if ms == 0 {
        return Err(format!(
            "the timeout \"{text}\" is zero: no request could finish; remove `timeout` for the server's"
        ));
    }
    Ok(ms)
}

/// The periods of a rate limit, with their length in seconds.
const PERIODS: [(&str, u64); 4] = [("second", 1), ("minute", 60), ("hour", 3600), ("day", 86_400)];

/// A rate limit such as `5/minute`: (requests, period in seconds); never zero requests.
pub(crate) fn parse_rate(text: &str) -> Result<(u64, u64), String> {
    let expected = || {
        let units: Vec<_> = PERIODS.iter().map(|(u, _)| *u).collect();
        format!(
            "invalid rate limit \"{text}\": expected a number of requests per period, as in \"5/minute\" (periods: {})",
            units.join(", ")
        )
    };
    let (count, period) = text.split_once('/').ok_or_else(expected)?;
    let count: u64 = count.trim().replace('_', "").parse().map_err(|_| expected())?;
    let seconds = PERIODS.iter().find(|(p, _)| *p == period.trim()).map(|(_, s)| *s).ok_or_else(expected)?;
    if count == 0 {
        return Err(format!(
            "the rate limit \"{text}\" allows no request: remove `rate_limit`, or allow at least 1"
        ));
    }
    if count > u64::from(u32::MAX) {
        return Err(format!("the rate limit \"{text}\" is too large"));
    }
    Ok((count, seconds))
}

/// `"100 MiB"` or `"100MiB"` into (100, "MiB"); `None` without a leading number.
fn split(text: &str) -> Option<(u64, &str)> {
    let text = text.trim();
    let digits = text.find(|c: char| !c.is_ascii_digit() && c != '_').unwrap_or(text.len());
    let number = text[..digits].replace('_', "");
    if number.is_empty() {
        return None;
    }
    Some((number.parse().ok()?, text[digits..].trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        assert_eq!(parse_rate("5/minute"), Ok((5, 60)));
        assert_eq!(parse_rate("100 / second"), Ok((100, 1)));
        assert_eq!(parse_rate("1/day"), Ok((1, 86_400)));
        assert_eq!(parse_rate("1_000/hour"), Ok((1000, 3600)));
        for bad in ["", "5", "5/min", "5/minutes", "five/minute", "-1/minute", "5/", "/minute"] {
            assert!(
                parse_rate(bad).unwrap_err().contains("expected a number of requests per period"),
                "{bad}"
            );
        }
        assert!(parse_rate("0/minute").unwrap_err().contains("allows no request"));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("100 MiB"), Ok(100 << 20));
        assert_eq!(parse_size("100MiB"), Ok(100 << 20));
        assert_eq!(parse_size("512 KB"), Ok(512_000));
        assert_eq!(parse_size("1 GiB"), Ok(1 << 30));
        assert_eq!(parse_size("2 GB"), Ok(2_000_000_000));
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("1_000 B"), Ok(1000));
        assert_eq!(parse_size("0"), Ok(0));
        for bad in ["", "MiB", "10 mib", "10 MiBs", "1.5 MiB", "-1 KB", "ten MB"] {
            assert!(parse_size(bad).unwrap_err().contains("expected a whole number and a unit"), "{bad}");
        }
        assert!(parse_size("99999999999999 GiB").unwrap_err().contains("too large"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30 s"), Ok(30_000));
        assert_eq!(parse_duration("500ms"), Ok(500));
        assert_eq!(parse_duration("2 min"), Ok(120_000));
        assert_eq!(parse_duration("1 h"), Ok(3_600_000));
        for bad in ["30", "30 sec", "s", "1.5 s", ""] {
            assert!(parse_duration(bad).unwrap_err().contains("expected a whole number and a unit"), "{bad}");
        }
        assert!(parse_duration("0 s").unwrap_err().contains("is zero"));
    }
}
