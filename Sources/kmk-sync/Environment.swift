import Foundation
import KMKModel
import KMKReplica

/// What the command line reads from the environment.
enum Environment {
    static var values: [String: String] { ProcessInfo.processInfo.environment }

    /// The wall clock: the system's, or `KMK_NOW` (milliseconds or ISO 8601 UTC) for tests and
    /// drills (empty: unset); `KMK_CLOCK_OFFSET_MS` shifts it (to simulate a machine whose clock
    /// is wrong).
    static func wallClock() throws -> Replica.WallClock {
        let offset = Int64(values["KMK_CLOCK_OFFSET_MS"] ?? "0") ?? 0
        if let fixed = values["KMK_NOW"], !fixed.isEmpty {
            guard let ms = HLC.parseTime(fixed) else {
                throw CLIFailure.usage("KMK_NOW='\(fixed)' is not a time; use milliseconds or YYYY-MM-DDTHH:MM:SSZ")
            }
            let shifted = UInt64(max(0, Int64(ms) + offset))
            return { shifted }
        }
        return { UInt64(max(0, Int64(Date().timeIntervalSince1970 * 1000) + offset)) }
    }

    /// How long to wait for a lock held by another program (`KMK_BUSY_TIMEOUT_MS`, default 5000).
    static var busyTimeoutMillis: Int32 {
        Int32(values["KMK_BUSY_TIMEOUT_MS"] ?? "") ?? 5_000
    }
}
