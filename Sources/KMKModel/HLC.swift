/// A hybrid logical clock value: milliseconds of wall time and a counter, packed in 64 bits.
///
/// The high 48 bits are milliseconds since 1970-01-01 UTC, the low 16 bits a counter that orders
/// events within one millisecond. Values compare as integers. The text form is 16 lowercase hex
/// digits, so text order equals clock order. Writes are ordered by (clock, origin replica id).
public struct HLC: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The packed value.
    public let rawValue: UInt64

    /// The zero clock, older than every real one.
    public static let zero = HLC(rawValue: 0)
    /// The largest clock a change may carry (`7fffffffffffffff`): clocks are stored as
    /// non-negative signed 64-bit integers.
    public static let max = HLC(rawValue: UInt64(Int64.max))

    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public init(millis: UInt64, counter: UInt16) {
        self.rawValue = (millis << 16) | UInt64(counter)
    }

    /// Milliseconds since 1970-01-01 UTC.
    public var millis: UInt64 { rawValue >> 16 }
    /// The counter within the millisecond.
    public var counter: UInt16 { UInt16(truncatingIfNeeded: rawValue) }

    /// The value as stored in SQLite (always non-negative for real times).
    public var int64: Int64 { Int64(bitPattern: rawValue) }

    public init(int64: Int64) { self.rawValue = UInt64(bitPattern: int64) }

    /// 16 lowercase hex digits.
    public var hex: String { String(rawValue, radix: 16).leftPadded(to: 16) }

    /// Appends the 16 lowercase hex digits of ``hex`` as UTF-8.
    public func appendHex(to out: inout [UInt8]) {
        for shift in stride(from: 60, through: 0, by: -4) {
            let d = UInt8(truncatingIfNeeded: (rawValue >> UInt64(shift)) & 0xF)
            out.append(d < 10 ? 0x30 + d : 0x57 + d)
        }
    }

    /// Reads the 16-hex-digit text form.
    ///
    /// A clock is below `8000000000000000`: SQLite stores it as a signed 64-bit integer, and every
    /// replica keeps clocks and bases at or above zero (SPEC.md §3). Nil for anything else.
    public init?(hex: String) {
        guard hex.utf8.count == 16, let v = UInt64(hex, radix: 16), v <= HLC.max.rawValue else { return nil }
        self.rawValue = v
    }

    public var description: String { hex }

    public static func < (a: HLC, b: HLC) -> Bool { a.rawValue < b.rawValue }

    /// The next clock for a local event, given the last clock issued and the wall time now.
    ///
    /// Never goes backwards, even when the wall clock does: it then keeps the last wall time and
    /// counts up. When the counter is exhausted it borrows the next millisecond.
    public func tick(now: UInt64) -> HLC {
        if now > millis { return HLC(millis: now, counter: 0) }
        return successor()
    }

    /// The next clock after receiving a remote clock, given the last clock issued and the wall time now.
    ///
    /// Throws when the remote clock is further ahead of `now` than `maxDrift` milliseconds: such a
    /// clock would drag every later local write into the future, so it is refused, not absorbed.
    public func receive(_ remote: HLC, now: UInt64, maxDrift: UInt64, origin: String) throws(ClockError) -> HLC {
        if remote.millis > now, remote.millis - now > maxDrift {
            throw ClockError(origin: origin, remote: remote, now: now, maxDrift: maxDrift)
        }
        let top = Swift.max(self, remote)
        if now > top.millis { return HLC(millis: now, counter: 0) }
        return top.successor()
    }

    /// The smallest clock greater than this one.
    public func successor() -> HLC {
        precondition(rawValue < UInt64.max, "HLC exhausted")
        return HLC(rawValue: rawValue + 1)
    }
}

/// A remote clock too far in the future, naming the replica that sent it.
public struct ClockError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The replica that made the change.
    public let origin: String
    /// Its clock.
    public let remote: HLC
    /// Local wall time, milliseconds.
    public let now: UInt64
    /// The drift allowed, milliseconds.
    public let maxDrift: UInt64

    public init(origin: String, remote: HLC, now: UInt64, maxDrift: UInt64) {
        self.origin = origin
        self.remote = remote
        self.now = now
        self.maxDrift = maxDrift
    }

    public var description: String {
        let ahead = (remote.millis - now) / 1000
        return "replica \(origin) sent a change whose clock is \(ahead) s ahead of this machine's clock "
            + "(at most \(maxDrift / 1000) s allowed); fix the clock on \(origin) or on this machine; "
            + "on \(origin), once its clock is right, kmk-sync clock repair re-stamps its unpushed edits; then sync again"
    }
}
