#if canImport(Glibc)
    import Glibc
#endif

extension Duration {
    /// The duration in seconds, for Dispatch, `timeout` arguments, JSON and printed figures.
    public var secondsDouble: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}

/// UTC timestamps in the reference's format: ISO-8601 with microseconds and `+00:00` (§0.8).
public enum Timestamp {
    public static func now() -> String { format(wallClock()) }

    /// Seconds since the epoch, with sub-second precision.
    public static func wallClock() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }

    public static func format(_ seconds: Double, microseconds: Bool = true) -> String {
        var whole = time_t(seconds.rounded(.down))
        let micros = Int(((seconds - Double(whole)) * 1_000_000).rounded(.down))
        var parts = tm()
        gmtime_r(&whole, &parts)
        func pad(_ value: Int32, _ width: Int = 2) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        let date = "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1))-\(pad(parts.tm_mday))"
        let time = "\(pad(parts.tm_hour)):\(pad(parts.tm_min)):\(pad(parts.tm_sec))"
        let fraction = microseconds ? "." + pad(Int32(micros), 6) : ""
        return "\(date)T\(time)\(fraction)+00:00"
    }
}
