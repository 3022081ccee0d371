import Foundation
import KMKHub
import KMKModel
import KMKReplica
import KMKSync
import Logging

/// A hub on 127.0.0.1 with an ephemeral port, for the end-to-end benchmarks: a `kmk-sync hub
/// serve` subprocess when the binary is known (so its peak memory is its own), otherwise a hub
/// served in this process (tests).
final class BenchHub {
    let url: String
    let dbPath: String
    private let process: Process?
    private let server: Task<Void, any Error>?

    private init(url: String, dbPath: String, process: Process?, server: Task<Void, any Error>?) {
        self.url = url
        self.dbPath = dbPath
        self.process = process
        self.server = server
    }

    /// Creates the store with one token per scope, then starts the hub on it.
    static func start(
        dbPath: String, executable: String?, launch: (Process) throws -> Void = { try $0.run() }, scopes: [HubScope]
    ) async throws -> (BenchHub, [HubScope: String]) {
        var tokens: [HubScope: String] = [:]
        let store = try HubStore.open(at: dbPath)
        for scope in scopes { tokens[scope] = try store.createToken(scope: scope, label: "bench").token }
        store.close()
        if let executable {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: executable)
            p.arguments = ["hub", "serve", "--db", dbPath, "--port", "0", "--log-level", "error"]
            let out = Pipe()
            p.standardOutput = out
            p.standardError = FileHandle.nullDevice
            try launch(p)
            var line = Data()
            while !line.contains(0x0A) {
                let chunk = Self.readSome(out.fileHandleForReading)
                if chunk.isEmpty { throw BenchError("the hub subprocess (\(executable) hub serve) exited before listening") }
                line += chunk
            }
            let text = String(decoding: line, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
            guard text.hasPrefix("listening on ") else { throw BenchError("the hub said '\(text)' instead of 'listening on URL'") }
            return (BenchHub(url: String(text.dropFirst(13)), dbPath: dbPath, process: p, server: nil), tokens)
        }
        var logger = Logger(label: "kmk-sync.bench-hub")
        logger.logLevel = .critical
        var config = HubConfiguration(databasePath: dbPath)
        config.port = 0
        let (addresses, continuation) = AsyncStream.makeStream(of: String.self)
        let server = Task {
            defer { continuation.finish() }
            try await HubServer.run(config, logger: logger) { continuation.yield($0) }
        }
        var iterator = addresses.makeAsyncIterator()
        guard let url = await iterator.next() else {
            server.cancel()
            throw BenchError("the in-process hub did not start")
        }
        return (BenchHub(url: url, dbPath: dbPath, process: nil, server: server), tokens)
    }

    /// The next bytes of a pipe (empty at its end), with `read(2)` retried on EINTR: Foundation's
    /// `availableData` stops the process with a `try!` when a signal interrupts the read.
    private static func readSome(_ handle: FileHandle) -> Data {
        var buffer = [UInt8](repeating: 0, count: 4_096)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(handle.fileDescriptor, $0.baseAddress, $0.count) }
            if n >= 0 { return Data(buffer[0..<n]) }
            if errno != EINTR { return Data() }
        }
    }

    /// Whether the hub runs as its own process (so ``peakMemoryBytes()`` is the hub's alone).
    var isSubprocess: Bool { process != nil }

    /// The hub's peak resident memory (VmHWM): of the subprocess, or of this whole process.
    func peakMemoryBytes() -> Int64? {
        let pid = process.map { String($0.processIdentifier) } ?? "self"
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let kb = line.split(separator: " ").compactMap { Int64($0) }.first
            return kb.map { $0 * 1024 }
        }
        return nil
    }

    /// Stops the hub (SIGTERM for the subprocess) and waits for it.
    func stop() async {
        if let process, process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        if let server {
            server.cancel()
            _ = await server.result
        }
    }
}
