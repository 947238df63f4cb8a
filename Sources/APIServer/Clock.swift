#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// RFC 3339 UTC timestamps (metav1.Time, second precision; metav1.MicroTime, microseconds),
/// without a DateFormatter.
enum Timestamp {
    static func now() -> String { rfc3339(seconds: Int64(time(nil)), micros: nil) }

    /// metav1.MicroTime for now.
    static func nowMicro() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return rfc3339(seconds: Int64(spec.tv_sec), micros: Int(spec.tv_nsec / 1000))
    }

    static func rfc3339(seconds: Int64, micros: Int?) -> String {
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : String(v) }
        var text = "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))"
        if let micros {
            let digits = String(micros)
            text += "." + String(repeating: "0", count: max(0, 6 - digits.count)) + digits
        }
        return text + "Z"
    }
}
