import Foundation
import KMKModel
import KMKReplica
import KMKTestSupport
import Testing

/// Runs the system `sqlite3` shell on a file with one SQL script; returns (exit status, standard
/// output, standard error). Standard output is read while the shell runs, so a long answer cannot
/// fill the pipe and block it.
@discardableResult
func sqlite3Shell(_ path: String, _ sql: String) throws -> (status: Int32, stdout: String, stderr: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
    p.arguments = ["-bail", path, sql]
    let out = Pipe()
    let err = Pipe()
    defer { ChildProcess.close(out, err) }
    p.standardOutput = out
    p.standardError = err
    try ChildProcess.run(p)
    nonisolated(unsafe) var outData = Data()
    let reading = DispatchGroup()
    reading.enter()
    DispatchQueue.global().async {
        outData = ChildProcess.readAll(out.fileHandleForReading)
        reading.leave()
    }
    let errData = ChildProcess.readAll(err.fileHandleForReading)
    reading.wait()
    let exit = ChildProcess.wait(p, seconds: 120)
    return (exit?.status ?? -1, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
}

/// The bytes of a file, for checking that a refused file was not changed.
func fileBytes(_ path: String) -> Data {
    FileManager.default.contents(atPath: path) ?? Data()
}

let eskilstuna = Municipality.byCode["0484"]!
let karlstad = Municipality.byCode["1780"]!
