//! The protocol timers of RFC 5798 §6.1 and RFC 3768 §6.1, as pure functions.

use std::time::Duration;

use crate::packet::Version;

/// Skew_Time.
///
/// RFC 5798 §6.1: `Skew_Time = ((256 - Priority) * Master_Adver_Interval) / 256`
/// (centiseconds). RFC 3768 §6.1: `Skew_Time = (256 - Priority) / 256` seconds.
pub fn skew_time(version: Version, priority: u8, master_adver_interval_cs: u32) -> Duration {
    let weight = 256 - u64::from(priority);
    match version {
        Version::V3 => {
            Duration::from_micros(weight * u64::from(master_adver_interval_cs) * 10_000 / 256)
        }
        Version::V2 => Duration::from_micros(weight * 1_000_000 / 256),
    }
}

/// Master_Down_Interval = `3 * Master_Adver_Interval + Skew_Time`
/// (RFC 5798 §6.1; RFC 3768 §6.1 with Advertisement_Interval).
pub fn master_down_interval(
    version: Version,
    priority: u8,
    master_adver_interval_cs: u32,
) -> Duration {
    centiseconds(3 * master_adver_interval_cs)
        + skew_time(version, priority, master_adver_interval_cs)
}

/// A centisecond count as a duration.
pub fn centiseconds(cs: u32) -> Duration {
    Duration::from_millis(u64::from(cs) * 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v3_skew_scales_with_the_interval() {
        // 100 cs interval, priority 100: skew = 156 * 100 / 256 cs = 60.9375 cs.
        assert_eq!(
            skew_time(Version::V3, 100, 100),
            Duration::from_micros(609_375)
        );
        assert_eq!(
            master_down_interval(Version::V3, 100, 100),
            Duration::from_micros(3_609_375)
        );
        // 10 ms adverts: 30 ms + 156/256 * 10 ms.
        assert_eq!(
            master_down_interval(Version::V3, 100, 1),
            Duration::from_micros(36_093)
        );
    }

    #[test]
    fn v2_skew_is_in_seconds_whatever_the_interval() {
        assert_eq!(
            skew_time(Version::V2, 100, 300),
            Duration::from_micros(609_375)
        );
        assert_eq!(
            master_down_interval(Version::V2, 100, 300),
            Duration::from_micros(9_609_375)
        );
    }

    #[test]
    fn higher_priority_means_shorter_skew() {
        let lo = master_down_interval(Version::V3, 50, 100);
        let hi = master_down_interval(Version::V3, 200, 100);
        assert!(hi < lo);
        assert_eq!(
            skew_time(Version::V3, 255, 100),
            Duration::from_micros(3_906)
        );
    }
}
