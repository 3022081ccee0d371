import Foundation
import KMKModel

extension RecordID {
    /// The creation time a version-7 id carries: its first 12 hex digits (Unix milliseconds).
    public static func millis(of id: String) -> UInt64? {
        UInt64(id.replacingOccurrences(of: "-", with: "").prefix(12), radix: 16)
    }
}
