/// Record ids: random UUIDs made offline on the replica, written lowercase
/// (`xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`). The municipality profile's id is its kommunkod.
public enum RecordID {
    /// A new random version-4 UUID from the given random source.
    public static func make(using rng: inout some RandomNumberGenerator) -> String {
        var bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &rng) }
        bytes[6] = (bytes[6] & 0x0F) | 0x40
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let hex = bytes.map { b in String(b, radix: 16).leftPadded(to: 2) }.joined()
        let c = Array(hex)
        return String(c[0..<8]) + "-" + String(c[8..<12]) + "-" + String(c[12..<16]) + "-"
            + String(c[16..<20]) + "-" + String(c[20..<32])
    }

    /// A new random UUID from the system's random source.
    public static func make() -> String {
        var rng = SystemRandomNumberGenerator()
        return make(using: &rng)
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
