import Foundation
import KMKTestSupport
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A real `kmk-sync hub serve` process on 127.0.0.1 with an ephemeral port, its store in the
/// test's temp folder, its output in files there.
final class HubProcess {
    let process = Process()
    let url: String
    let db: String
    let log: String

    /// Starts the hub and waits (at most 30 s) for its "listening on" line.
    init(cli: CLI, db: String = "hub.db", arguments: [String] = [], environment: [String: String] = [:]) throws {
        self.db = cli.path(db)
        let out = cli.path("hub-\(UUID().uuidString.prefix(8)).out")
        log = out + ".log"
        FileManager.default.createFile(atPath: out, contents: nil)
        FileManager.default.createFile(atPath: log, contents: nil)
        process.executableURL = URL(fileURLWithPath: CLI.binary)
        process.arguments = ["hub", "serve", "--db", self.db, "--host", "127.0.0.1", "--port", "0"] + arguments
        process.currentDirectoryURL = cli.directory
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        process.standardOutput = FileHandle(forWritingAtPath: out)
        process.standardError = FileHandle(forWritingAtPath: log)
        process.standardInput = FileHandle.nullDevice
        try ChildProcess.run(process)
        let deadline = Date().addingTimeInterval(30)
        var found: String?
        while found == nil, Date() < deadline, ChildProcess.exit(of: process) == nil {
            let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("listening on ") }) {
                found = String(line.dropFirst("listening on ".count))
            } else {
                usleep(20_000)
            }
        }
        guard let found else {
            process.terminate()
            throw HubStartFailure(log: (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
        }
        url = found
    }

    struct HubStartFailure: Error, CustomStringConvertible {
        let log: String
        var description: String { "the hub did not print its address within 30 s: \(log)" }
    }

    /// Sends a signal and waits (at most 30 s) for the process to end; returns its status.
    @discardableResult
    func stop(_ signal: Int32 = SIGTERM) -> Int32 {
        if ChildProcess.exit(of: process) == nil { kill(process.processIdentifier, signal) }
        return waitForExit()
    }

    @discardableResult
    func waitForExit() -> Int32 {
        if let exit = ChildProcess.wait(process, seconds: 30) { return exit.status }
        kill(process.processIdentifier, SIGKILL)
        Issue.record("the hub did not stop within 30 s")
        return ChildProcess.wait(process, seconds: 30)?.status ?? -1
    }

    var logText: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

    deinit { if ChildProcess.exit(of: process) == nil { kill(process.processIdentifier, SIGKILL) } }
}

/// A raw HTTP exchange with the hub, for protocol-level checks.
struct RawHTTP {
    struct Reply {
        let status: Int
        let headers: [String: String]
        let body: String
    }

    static func send(_ method: String, _ url: String, token: String? = nil, body: Data? = nil,
                     headers: [String: String] = [:]) async throws -> Reply {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = method
        request.timeoutInterval = 20
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        for (k, v) in headers { request.setValue(v, forHTTPHeaderField: k) }
        request.httpBody = body
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as! HTTPURLResponse
        var fields: [String: String] = [:]
        for (k, v) in http.allHeaderFields { fields[String(describing: k).lowercased()] = String(describing: v) }
        return Reply(status: http.statusCode, headers: fields, body: String(decoding: data, as: UTF8.self))
    }
}

extension CLI {
    /// Creates a token on the hub's store and writes it to `file` with mode 600.
    func token(hub: HubProcess, _ scope: [String], file: String) throws -> String {
        let r = try run(["hub", "token", "create", "--db", hub.db] + scope)
        #expect(r.status == 0, "\(r.stderr)")
        let token = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        FileManager.default.createFile(atPath: path(file), contents: Data((token + "\n").utf8), attributes: [.posixPermissions: 0o600])
        return token
    }

    /// A new replica of `municipality` whose hub is `hub`, with the token beside it.
    func replica(_ name: String, _ municipality: String, hub: HubProcess, token: String) throws -> String {
        let p = path(name)
        #expect(try run("init", p, "--municipality", municipality).status == 0)
        #expect(try run("remote", "set", hub.url, "--replica", p).status == 0)
        FileManager.default.createFile(atPath: p + ".token", contents: Data(token.utf8), attributes: [.posixPermissions: 0o600])
        return p
    }

    /// The replica's status as JSON.
    func status(_ replica: String) throws -> [String: Any] {
        let r = try run("status", "--json", "--replica", replica)
        return (try JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any] ?? [:]
    }
}
