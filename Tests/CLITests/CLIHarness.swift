import Foundation
import KMKTestSupport
import Testing

/// Runs the built `kmk-sync` binary as a user would.
struct CLI {
    /// The binary: `$KMK_SYNC_BIN`, or `kmk-sync` beside the test bundle.
    static let binary = KMKSyncBinary.path

    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    let directory: URL
    var environment: [String: String] = [:]

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("kmk-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Runs `kmk-sync ARGS` in the temp directory with a 60 s limit.
    @discardableResult
    func run(_ args: String..., stdin: String? = nil) throws -> Result {
        try run(args, stdin: stdin)
    }

    @discardableResult
    func run(_ args: [String], stdin: String? = nil) throws -> Result {
        let p = process(args)
        let out = Pipe()
        let err = Pipe()
        defer { ChildProcess.close(out, err) }
        p.standardOutput = out
        p.standardError = err
        p.standardInput = stdin == nil ? FileHandle.nullDevice : Pipe()
        try ChildProcess.run(p)
        if let stdin, let pipe = p.standardInput as? Pipe {
            pipe.fileHandleForWriting.write(Data(stdin.utf8))
            try pipe.fileHandleForWriting.close()
        }
        // Read both pipes concurrently so a full pipe cannot block the child.
        nonisolated(unsafe) var outData = Data()
        nonisolated(unsafe) var errData = Data()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { outData = ChildProcess.readAll(out.fileHandleForReading); group.leave() }
        group.enter()
        DispatchQueue.global().async { errData = ChildProcess.readAll(err.fileHandleForReading); group.leave() }
        var exit = ChildProcess.wait(p, seconds: 60)
        if exit == nil {
            p.terminate()
            Issue.record("kmk-sync \(args.joined(separator: " ")) did not finish within 60 s")
            exit = ChildProcess.wait(p, seconds: 10)
            if exit == nil {
                kill(p.processIdentifier, SIGKILL)
                exit = ChildProcess.wait(p, seconds: 30)
            }
        }
        group.wait()
        return Result(status: exit?.status ?? -1, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }

    /// Starts `kmk-sync ARGS` in the temp directory with no input and its output discarded, and
    /// returns at once (for tests that kill it).
    func spawn(_ args: [String]) throws -> Process {
        let p = process(args)
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        try ChildProcess.run(p)
        return p
    }

    /// `kmk-sync ARGS`, not started: in the temp directory, with this CLI's environment
    /// (`KMK_REPLICA` from the outside removed).
    private func process(_ args: [String]) -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLI.binary)
        p.arguments = args
        p.currentDirectoryURL = directory
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "KMK_REPLICA")
        for (k, v) in environment { env[k] = v }
        p.environment = env
        return p
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}

/// The sqlite3 shell (Debian's `sqlite3`), run on a replica or hub file as a user or another
/// program would.
enum SQLiteShell {
    /// Runs `sql` on `file` (with `-readonly` when asked) and returns its status and output.
    static func run(_ file: String, _ sql: String, readOnly: Bool = false) throws -> CLI.Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["sqlite3", "-batch", "-bail"] + (readOnly ? ["-readonly"] : []) + [file, sql]
        let out = Pipe(), err = Pipe()
        defer { ChildProcess.close(out, err) }
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try ChildProcess.run(p)
        nonisolated(unsafe) var errData = Data()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { errData = ChildProcess.readAll(err.fileHandleForReading); group.leave() }
        let outData = ChildProcess.readAll(out.fileHandleForReading)
        group.wait()
        let exit = ChildProcess.wait(p, seconds: 120)
        return CLI.Result(status: exit?.status ?? -1, stdout: String(decoding: outData, as: UTF8.self),
                          stderr: String(decoding: errData, as: UTF8.self))
    }

    /// `PRAGMA integrity_check` read-only: "ok" for a sound file.
    static func integrity(_ file: String) throws -> String {
        let r = try run(file, "PRAGMA integrity_check;", readOnly: true)
        return (r.stdout + r.stderr).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
