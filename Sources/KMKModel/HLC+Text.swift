extension HLC {
    /// The wall time as ISO 8601 UTC with milliseconds, e.g. `2026-11-22T10:15:00.123Z`,
    /// followed by `+N` when the counter is not zero.
    public var iso: String {
        let ms = Int64(millis)
        let day = ISODate(unixMillis: ms)
        let msOfDay = ms - Int64(day.daysSinceEpoch) * 86_400_000
        let h = msOfDay / 3_600_000
        let m = msOfDay / 60_000 % 60
        let s = msOfDay / 1000 % 60
        let f = msOfDay % 1000
        func pad(_ n: Int64, _ w: Int) -> String { String(n).leftPadded(to: w) }
        var out = "\(day)T\(pad(h, 2)):\(pad(m, 2)):\(pad(s, 2)).\(pad(f, 3))Z"
        if counter != 0 { out += "+\(counter)" }
        return out
    }

    /// Reads a time for tests and tools: milliseconds since 1970, or ISO 8601 UTC
    /// `YYYY-MM-DDTHH:MM[:SS[.fff]]Z` (or a bare date, meaning midnight UTC). Returns milliseconds.
    public static func parseTime(_ text: String) -> UInt64? {
        if let ms = UInt64(text) { return ms }
        let parts = text.split(separator: "T", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard let date = ISODate(parts[0]) else { return nil }
        var ms = Int64(date.daysSinceEpoch) * 86_400_000
        if parts.count == 2 {
            var t = parts[1]
            guard t.hasSuffix("Z") else { return nil }
            t.removeLast()
            let hms = t.split(separator: ":").map(String.init)
            guard hms.count >= 2, hms.count <= 3, let h = Int64(hms[0]), let m = Int64(hms[1]), h < 24, m < 60 else {
                return nil
            }
            ms += h * 3_600_000 + m * 60_000
            if hms.count == 3 {
                guard let sec = Double(hms[2]), sec >= 0, sec < 61 else { return nil }
                ms += Int64((sec * 1000).rounded())
            }
        }
        return ms >= 0 ? UInt64(ms) : nil
    }
}
