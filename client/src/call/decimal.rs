//! Decimal numbers for people: "8.5 kbit/s", "12.3 MB", a sparkline's "11.67".
//!
//! Written out from integers rather than with `format!("{:.1}", x)`: Rust's float formatting (exact and
//! shortest-representation algorithms, with their tables) would weigh far more in the wasm than a few labels are
//! worth (docs/SIZE.md, "What each change saved").

/// `value` rounded to `decimals` places (halves away from zero), with exactly that many: `fixed(2.25, 1)` is `2.3`,
/// `fixed(812.4, 0)` is `812`. Values that are not finite, which no figure shown can be, are written as 0.
pub fn fixed(value: f64, decimals: u32) -> String {
    let scale = 10u64.pow(decimals);
    // `as` saturates: beyond u64, which no figure shown comes near, the number stops growing.
    let scaled = if value.is_finite() { (value.abs() * scale as f64).round() as u64 } else { 0 };
    let sign = if value < 0.0 && scaled > 0 { "-" } else { "" };
    let whole = scaled / scale;
    if decimals == 0 {
        format!("{sign}{whole}")
    } else {
        format!("{sign}{whole}.{:0width$}", scaled % scale, width = decimals as usize)
    }
}

/// [`fixed`] without trailing zeros, nor a trailing point: `trimmed(11.666, 2)` is `11.67`, `trimmed(25.0, 2)` is
/// `25`.
pub fn trimmed(value: f64, decimals: u32) -> String {
    let text = fixed(value, decimals);
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_writes_exactly_the_decimals_asked_for() {
        assert_eq!(fixed(0.0, 1), "0.0");
        assert_eq!(fixed(8.54, 1), "8.5");
        assert_eq!(fixed(2.25, 1), "2.3");
        assert_eq!(fixed(9.96, 1), "10.0");
        assert_eq!(fixed(812.4, 0), "812");
        assert_eq!(fixed(812.5, 0), "813");
        assert_eq!(fixed(0.05, 2), "0.05");
        assert_eq!(fixed(1.005, 3), "1.005");
        assert_eq!(fixed(16_777_216.0, 1), "16777216.0");
    }

    #[test]
    fn signs_and_odd_values() {
        assert_eq!(fixed(-4.236, 2), "-4.24");
        assert_eq!(fixed(-0.04, 1), "0.0");
        assert_eq!(fixed(f64::NAN, 1), "0.0");
        assert_eq!(fixed(f64::INFINITY, 0), "0");
    }

    #[test]
    fn trimmed_drops_trailing_zeros() {
        assert_eq!(trimmed(11.666, 2), "11.67");
        assert_eq!(trimmed(3.3, 2), "3.3");
        assert_eq!(trimmed(25.0, 2), "25");
        assert_eq!(trimmed(100.0, 0), "100");
        assert_eq!(trimmed(0.0, 2), "0");
        assert_eq!(trimmed(-1.5, 2), "-1.5");
    }
}
