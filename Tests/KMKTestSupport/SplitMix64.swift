import Foundation
import KMKModel

extension SplitMix64 {
    /// The seed from the environment variable `variable` (decimal or 0x-hex), else a fresh random
    /// one. Tests print it, so a failure can be replayed with `variable=SEED`.
    package static func seed(from variable: String) -> UInt64 {
        if let text = ProcessInfo.processInfo.environment[variable] {
            if text.hasPrefix("0x"), let v = UInt64(text.dropFirst(2), radix: 16) { return v }
            if let v = UInt64(text) { return v }
        }
        return UInt64.random(in: 0...UInt64.max)
    }
}
