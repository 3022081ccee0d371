import Foundation

/// Record ids: UUIDs made offline on the replica, written lowercase. New records get
/// version-7 UUIDs (`xxxxxxxx-xxxx-7xxx-yxxx-xxxxxxxxxxxx`, RFC 9562): the creation time in
/// milliseconds leads, so ids made later sort after earlier ones and records created together
/// sit together in every B-tree keyed by id (SPEC.md §1, "Ids"). Any UUID is a valid id. The
/// municipality profile's id is its kommunkod.
public enum RecordID {
    /// A new random version-4 UUID from the given random source (for seeded test data; the
    /// product makes version-7 ids).
    public static func make(using rng: inout some RandomNumberGenerator) -> String {
        var bytes = randomBytes(using: &rng)
        bytes[6] = (bytes[6] & 0x0F) | 0x40
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        return text(bytes)
    }

    /// A new version-7 UUID: the 48-bit Unix time `millis` (milliseconds), the version, then 74
    /// random bits from `rng` (with the variant bits).
    public static func make(millis: UInt64, using rng: inout some RandomNumberGenerator) -> String {
        var bytes = randomBytes(using: &rng)
        for i in 0..<6 { bytes[i] = UInt8(truncatingIfNeeded: millis >> (40 - 8 * UInt64(i))) }
        bytes[6] = (bytes[6] & 0x0F) | 0x70
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        return text(bytes)
    }

    /// A new version-7 UUID for the time `millis`, random bits from the system's random source.
    public static func make(millis: UInt64) -> String {
        var rng = SystemRandomNumberGenerator()
        return make(millis: millis, using: &rng)
    }

    /// A new random version-4 UUID from the system's random source: for replica and hub ids, which
    /// are shown shortened to their first digits and must differ there (a version-7 id's first
    /// digits are its time).
    public static func makeRandom() -> String {
        var rng = SystemRandomNumberGenerator()
        return make(using: &rng)
    }

    /// A new version-7 UUID for now, random bits from the system's random source.
    public static func make() -> String {
        make(millis: UInt64(max(0, Date().timeIntervalSince1970 * 1_000)))
    }

    private static func randomBytes(using rng: inout some RandomNumberGenerator) -> [UInt8] {
        let a = rng.next() as UInt64
        let b = rng.next() as UInt64
        return (0..<16).map { i in UInt8(truncatingIfNeeded: (i < 8 ? a : b) >> (8 * UInt64(i % 8))) }
    }

    /// The 16 bytes as lowercase hex in the 8-4-4-4-12 form.
    private static func text(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(36)
        for (i, b) in bytes.enumerated() {
            if i == 4 || i == 6 || i == 8 || i == 10 { out.append(UInt8(ascii: "-")) }
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Whether `s` is a record id: a UUID (any case) or a four-digit kommunkod.
    public static func isValid(_ s: String) -> Bool {
        // Straight over the bytes (a hot path of the wire readers and the hub).
        if let valid = s.utf8.withContiguousStorageIfAvailable(isValid(utf8:)) { return valid }
        return Array(s.utf8).withUnsafeBufferPointer(isValid(utf8:))
    }

    private static func isValid(utf8 c: UnsafeBufferPointer<UInt8>) -> Bool {
        if c.count == 4 { return c.allSatisfy { $0 >= 48 && $0 <= 57 } }
        guard c.count == 36 else { return false }
        for i in 0..<36 {
            let b = c[i]
            if i == 8 || i == 13 || i == 18 || i == 23 {
                guard b == UInt8(ascii: "-") else { return false }
            } else {
                guard (b >= 48 && b <= 57) || (b >= 97 && b <= 102) || (b >= 65 && b <= 70) else { return false }
            }
        }
        return true
    }
}

extension String {
    func leftPadded(to width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
