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

    /// Seconds since the epoch of a timestamp in the format `format` writes (the fraction and the
    /// offset optional), or nil when the text is not one.
    public static func epochSeconds(_ text: String) -> Double? {
        let bytes = Array(text.utf8)
        func number(_ start: Int, _ width: Int) -> Int32? {
            guard start + width <= bytes.count else { return nil }
            var value: Int32 = 0
            for byte in bytes[start..<start + width] {
                guard byte >= 0x30, byte <= 0x39 else { return nil }
                value = value * 10 + Int32(byte - 0x30)
            }
            return value
        }
        guard bytes.count >= 19, bytes[4] == 0x2D, bytes[7] == 0x2D, bytes[10] == 0x54, bytes[13] == 0x3A,
            bytes[16] == 0x3A, let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
            let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2)
        else { return nil }
        var fractionEnd = 19
        var fraction = 0.0
        if fractionEnd < bytes.count, bytes[fractionEnd] == 0x2E {
            var scale = 0.1
            fractionEnd += 1
            while fractionEnd < bytes.count, bytes[fractionEnd] >= 0x30, bytes[fractionEnd] <= 0x39 {
                fraction += Double(bytes[fractionEnd] - 0x30) * scale
                scale /= 10
                fractionEnd += 1
            }
        }
        let rest = String(decoding: bytes[fractionEnd...], as: UTF8.self)
        guard ["", "Z", "+00:00"].contains(rest) else { return nil }
        var parts = tm()
        parts.tm_year = year - 1900
        parts.tm_mon = month - 1
        parts.tm_mday = day
        parts.tm_hour = hour
        parts.tm_min = minute
        parts.tm_sec = second
        return Double(timegm(&parts)) + fraction
    }
}
