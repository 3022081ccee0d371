import Foundation

/// A small seeded generator for reproducible tests.
public struct SplitMix64: RandomNumberGenerator {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The seed from the environment variable `variable` (decimal or 0x-hex), else a fresh random
    /// one. Tests print it, so a failure can be replayed with `variable=SEED`.
    public static func seed(from variable: String) -> UInt64 {
        if let text = ProcessInfo.processInfo.environment[variable] {
            if text.hasPrefix("0x"), let v = UInt64(text.dropFirst(2), radix: 16) { return v }
            if let v = UInt64(text) { return v }
        }
        return UInt64.random(in: 0...UInt64.max)
    }
}
