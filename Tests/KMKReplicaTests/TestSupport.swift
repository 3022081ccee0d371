import Foundation
import KMKModel
import KMKReplica
import KMKTestSupport
import Testing

/// Runs the system `sqlite3` shell on a file with one SQL script; returns (exit status, stderr).
@discardableResult
func sqlite3Shell(_ path: String, _ sql: String) throws -> (status: Int32, stderr: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
    p.arguments = ["-bail", path, sql]
    let err = Pipe()
    p.standardError = err
    p.standardOutput = Pipe()
    try ChildProcess.run(p)
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
