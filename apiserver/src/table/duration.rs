//! Human-readable durations as kubectl and kube-apiserver print them
//! (`45s`, `5m10s`, `3h20m`, `3d4h`, `2y30d`).

const SECOND: i64 = 1_000_000_000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;

/// Nanoseconds in `d`, saturating like Go's `time.Duration` (±~292 years).
fn nanos(d: chrono::Duration) -> i64 {
    d.num_nanoseconds()
        .unwrap_or(if d < chrono::Duration::zero() {
            i64::MIN
        } else {
            i64::MAX
        })
}

/// A succinct duration with roughly two to three significant figures, the
/// format of AGE columns: seconds below 2 minutes, minutes+seconds below 10
/// minutes, minutes below 3 hours, hours+minutes below 8 hours, hours below
/// 2 days, days+hours below 8 days, days below 2 years, years+days below 8
/// years, then years. Up to one second in the future reads as `0s`; further
/// in the future is `<invalid>`.
pub fn human_duration(d: chrono::Duration) -> String {
    human_duration_nanos(nanos(d))
}

/// [`human_duration`] for a duration given in nanoseconds.
pub fn human_duration_nanos(d: i64) -> String {
    // Integer division truncates toward zero, as Go's int(d.Seconds()) does.
    let seconds = d / SECOND;
    if seconds < -1 {
        return "<invalid>".to_string();
    }
    if seconds < 0 {
        return "0s".to_string();
    }
    if seconds < 2 * 60 {
        return format!("{}s", seconds);
    }
    let minutes = d / MINUTE;
    if minutes < 10 {
        let s = (d / SECOND) % 60;
        return if s == 0 {
            format!("{}m", minutes)
        } else {
            format!("{}m{}s", minutes, s)
        };
    }
    if minutes < 3 * 60 {
        return format!("{}m", minutes);
    }
    let hours = d / HOUR;
    if hours < 8 {
        let m = (d / MINUTE) % 60;
        return if m == 0 {
            format!("{}h", hours)
        } else {
            format!("{}h{}m", hours, m)
        };
    }
    if hours < 48 {
        return format!("{}h", hours);
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{}h", hours / 24, h)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{}d", hours / 24 / 365, dy)
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// A one-unit duration (`45s`, `5m`, `3h`, `12d`, `2y`), kubectl's short form.
pub fn short_human_duration(d: chrono::Duration) -> String {
    let d = nanos(d);
    let seconds = d / SECOND;
    if seconds < -1 {
        return "<invalid>".to_string();
    }
    if seconds < 0 {
        return "0s".to_string();
    }
    if seconds < 60 {
        return format!("{}s", seconds);
    }
    let minutes = d / MINUTE;
    if minutes < 60 {
        return format!("{}m", minutes);
    }
    let hours = d / HOUR;
    if hours < 24 {
        return format!("{}h", hours);
    }
    if hours < 24 * 365 {
        return format!("{}d", hours / 24);
    }
    format!("{}y", hours / 24 / 365)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn h(secs: i64) -> String {
        human_duration(Duration::seconds(secs))
    }

    #[test]
    fn human() {
        assert_eq!(h(0), "0s");
        assert_eq!(h(59), "59s");
        assert_eq!(h(119), "119s");
        assert_eq!(h(120), "2m");
        assert_eq!(h(310), "5m10s");
        assert_eq!(h(9 * 60 + 59), "9m59s");
        assert_eq!(h(10 * 60 + 30), "10m");
        assert_eq!(h(179 * 60 + 59), "179m");
        assert_eq!(h(3 * 3600), "3h");
        assert_eq!(h(3 * 3600 + 20 * 60 + 5), "3h20m");
        assert_eq!(h(8 * 3600 + 59 * 60), "8h");
        assert_eq!(h(47 * 3600 + 59 * 60), "47h");
        assert_eq!(h(48 * 3600), "2d");
        assert_eq!(h(3 * 86400 + 4 * 3600), "3d4h");
        assert_eq!(h(7 * 86400 + 23 * 3600), "7d23h");
        assert_eq!(h(8 * 86400 + 23 * 3600), "8d");
        assert_eq!(h(729 * 86400), "729d");
        assert_eq!(h(730 * 86400), "2y");
        assert_eq!(h(730 * 86400 + 30 * 86400), "2y30d");
        assert_eq!(h(8 * 365 * 86400 + 100 * 86400), "8y");
        assert_eq!(h(300 * 365 * 86400), "292y");
    }

    #[test]
    fn human_negative() {
        assert_eq!(human_duration(Duration::milliseconds(-500)), "0s");
        assert_eq!(human_duration(Duration::milliseconds(-1999)), "0s");
        assert_eq!(human_duration(Duration::milliseconds(-2000)), "<invalid>");
        assert_eq!(human_duration(Duration::milliseconds(1999)), "1s");
    }

    #[test]
    fn short() {
        let s = |secs| short_human_duration(Duration::seconds(secs));
        assert_eq!(s(-5), "<invalid>");
        assert_eq!(s(59), "59s");
        assert_eq!(s(60), "1m");
        assert_eq!(s(3599), "59m");
        assert_eq!(s(86399), "23h");
        assert_eq!(s(86400 * 364), "364d");
        assert_eq!(s(86400 * 365 * 3), "3y");
    }
}
