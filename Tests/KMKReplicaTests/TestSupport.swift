import Foundation
import KMKModel
import KMKReplica
import Testing

/// A fresh temporary directory, removed when the value is deinitialised.
final class TempDir {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("kmk-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    deinit { try? FileManager.default.removeItem(at: url) }
}

/// A wall clock the test moves by hand.
final class ManualClock: @unchecked Sendable {
    // Only touched from the test's own thread; @unchecked because the closure type must be Sendable.
    var millis: UInt64

    init(_ iso: String = "2026-03-01T09:00:00Z") { millis = HLC.parseTime(iso)! }

    var clock: Replica.WallClock { { [unowned self] in self.millis } }

    func advance(seconds: Double) { millis = UInt64(Int64(millis) + Int64(seconds * 1000)) }
}

/// Runs the system `sqlite3` shell on a file with one SQL script; returns (exit status, stderr).
@discardableResult
func sqlite3Shell(_ path: String, _ sql: String) throws -> (status: Int32, stderr: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
    p.arguments = ["-bail", path, sql]
    let err = Pipe()
    p.standardError = err
    p.standardOutput = Pipe()
    try p.run()
    p.waitUntilExit()
    let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    return (p.terminationStatus, text)
}

/// The bytes of a file, for checking that a refused file was not changed.
func fileBytes(_ path: String) -> Data {
    FileManager.default.contents(atPath: path) ?? Data()
}

let eskilstuna = Municipality.byCode["0484"]!
let karlstad = Municipality.byCode["1780"]!
