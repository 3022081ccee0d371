import Foundation

/// The built `kmk-sync` binary, for tests that run it as a user would (or as the hub).
package enum KMKSyncBinary {
    /// `$KMK_SYNC_BIN`, or `kmk-sync` beside the test bundle, or `.build/debug/kmk-sync`.
    package static let path: String = {
        if let env = ProcessInfo.processInfo.environment["KMK_SYNC_BIN"] { return env }
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("kmk-sync").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return PackageDirectory.url(".build/debug/kmk-sync").path
    }()
}
