import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import KMKModel
import KMKReplica
import KMKSync
import KMKTestSupport
import Testing

/// Load (issue 6): many clients of several municipalities, each with its own replica file, write,
/// push and pull in a loop against one real hub process on loopback. Every request's status and
/// latency is recorded. Asserted: no 5xx (nor any other refusal or connection error), no lost
/// write, and every replica of a municipality equal to the hub. Measured and printed, never
/// asserted: throughput and latency.
///
/// `KMK_LOAD_SECONDS` (default 30) and `KMK_LOAD_CLIENTS` (default 64) size the run;
/// `KMK_LOAD_SEED` replays a printed seed (edits and sizes; not the interleaving).
@Suite("load", .serialized)
struct LoadTests {
    static let environment = ProcessInfo.processInfo.environment
    static let seconds = Double(environment["KMK_LOAD_SECONDS"] ?? "") ?? 30
    static let clients = Int(environment["KMK_LOAD_CLIENTS"] ?? "") ?? 64
    static let seed = UInt64(environment["KMK_LOAD_SEED"] ?? "") ?? UInt64.random(in: 1...UInt64(UInt32.max))
    /// Eight municipalities of eight clients: each write is pulled by seven other replicas.
    static let municipalities = ["0484", "1283", "1780", "0880", "0180", "1480", "1280", "0380"]

    @Test("64 clients of 8 municipalities push and pull against one hub: no 5xx, no lost write, converged")
    func manyClients() async throws {
        print("load: seed \(Self.seed), \(Self.clients) clients, \(Int(Self.seconds)) s (replay: KMK_LOAD_SEED=\(Self.seed))")
        let dir = try TempDir()
        var tokens: [String: String] = [:]
        let store = try HubStore.open(at: dir.path("hub.db"))
        for code in Self.municipalities {
            tokens[code] = try store.createToken(scope: .municipality(code), label: "load \(code)").token
        }
        store.close()
        let hub = try LoadHub(db: dir.path("hub.db"), folder: dir.url)
        defer { hub.stop() }

        let clients = (0..<Self.clients).map { i in
            LoadClient(index: i, municipality: Self.municipalities[i % Self.municipalities.count],
                       path: dir.path("client-\(i).kmk"), hub: hub.url,
                       token: tokens[Self.municipalities[i % Self.municipalities.count]]!,
                       seed: Self.seed &+ UInt64(i) &* 0x9E37_79B9)
        }
        // Replica files are made before the clock starts.
        for c in clients { try c.create() }
        let started = Date()
        // The loop: every client writes, pushes and pulls for the run's time from when it starts
        // (in a busy test process a task may start late).
        var results = try await withThrowingTaskGroup(of: LoadClient.Result.self) { group in
            for c in clients { group.addTask { try await c.run(for: Self.seconds) } }
            var all: [LoadClient.Result] = []
            for try await r in group { all.append(r) }
            return all.sorted { $0.index < $1.index }
        }
        let loopSeconds = Date().timeIntervalSince(started)
        // The end: everyone pushes what is left, then everyone pulls.
        for phase in [LoadClient.Phase.push, .pull] {
            let finals = try await withThrowingTaskGroup(of: LoadClient.Result.self) { group in
                for c in clients { group.addTask { try await c.finish(phase) } }
                var all: [LoadClient.Result] = []
                for try await r in group { all.append(r) }
                return all
            }
            for f in finals { results[f.index].samples += f.samples; results[f.index].problems += f.problems }
        }

        // Figures from the loop (the final syncs are checked but not counted in the rates).
        let samples = results.flatMap(\.samples)
        let loop = results.flatMap { $0.samples.prefix($0.loopSamples) }
        let pushed = results.reduce(0) { $0 + $1.changesPushed }
        let pulled = results.reduce(0) { $0 + $1.changesPulled }
        let writes = results.reduce(0) { $0 + $1.writes }
        func ms(_ micros: [Int], _ q: Double) -> String {
            guard !micros.isEmpty else { return "-" }
            let sorted = micros.sorted()
            return String(format: "%.1f ms", Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))]) / 1_000)
        }
        let pushes = loop.filter { $0.route == .push }.map(\.micros)
        let pulls = loop.filter { $0.route == .pull }.map(\.micros)
        let all = loop.map(\.micros)
        var statuses: [Int: Int] = [:]
        for s in samples { statuses[s.status, default: 0] += 1 }
        print("load: \(Self.clients) clients of \(Self.municipalities.count) municipalities for \(String(format: "%.1f", loopSeconds)) s: "
            + "\(loop.count) requests (\(String(format: "%.0f", Double(loop.count) / loopSeconds))/s; \(pushes.count) pushes, \(pulls.count) pulls), "
            + "\(writes) writes, \(pushed) changes pushed (\(String(format: "%.0f", Double(pushed) / loopSeconds))/s), "
            + "\(pulled) pulled (\(String(format: "%.0f", Double(pulled) / loopSeconds))/s)")
        print("load: latency p50 \(ms(all, 0.5)), p99 \(ms(all, 0.99)), max \(ms(all, 1)); push p50 \(ms(pushes, 0.5)), "
            + "p99 \(ms(pushes, 0.99)); pull p50 \(ms(pulls, 0.5)), p99 \(ms(pulls, 0.99)); statuses (loop and final syncs): "
            + statuses.sorted { $0.key < $1.key }.map { "\($0.key == 0 ? "connection error" : String($0.key)) × \($0.value)" }.joined(separator: ", "))

        // The hub's own view of its latency (its histogram: the upper bound of the bucket).
        let metrics = try await hubMetrics(hub.url)
        print("load: hub-side latency (bucket bounds): " + metrics.joined(separator: "; "))

        #expect(samples.filter { $0.status >= 500 }.isEmpty, "seed \(Self.seed): the hub answered 5xx")
        #expect(samples.allSatisfy { $0.status == 200 }, "seed \(Self.seed): statuses \(statuses)")
        for r in results { #expect(r.problems.isEmpty, "seed \(Self.seed): client \(r.index): \(r.problems.prefix(3))") }
        #expect(loop.count > Self.clients, "seed \(Self.seed): the clients should each have sent requests")

        // No lost write, converged: every replica holds every write made in its municipality,
        // with its last value, and equals the hub (checksum and register count).
        for code in Self.municipalities {
            let group = results.filter { $0.municipality == code }
            let written = group.reduce(into: [String: Int64]()) { $0.merge($1.written) { a, _ in a } }
            let reply = try await hubChecksum(hub.url, code, token: tokens[code]!)
            var exports: Set<String> = []
            for r in group {
                let replica = try Replica.open(at: clients[r.index].path)
                defer { replica.close() }
                #expect(try replica.pendingOutgoing() == 0, "seed \(Self.seed): client \(r.index) has changes left to push")
                let local = try replica.checksum()
                #expect(local.checksum == reply.checksum && local.count == reply.count,
                        "seed \(Self.seed): client \(r.index) (\(code)) holds \(local.count) registers, the hub \(reply.count)")
                let venues = Dictionary(try replica.records("venue").map { ($0.id, $0.fields["staff_count"]?.integer) },
                                        uniquingKeysWith: { a, _ in a })
                let lost = written.filter { venues[$0.key] != .some($0.value) }
                #expect(lost.isEmpty, "seed \(Self.seed): client \(r.index) (\(code)) lacks \(lost.count) of \(written.count) writes")
                exports.insert(try replica.export().encoded())
            }
            #expect(exports.count == 1, "seed \(Self.seed): the replicas of \(code) differ")
            print("load: \(code): \(group.count) replicas, \(written.count) venues written, \(reply.count) registers on the hub and on each replica")
        }
    }

    /// p50 and p99 per route from the hub's `kmk_hub_request_duration_seconds` histogram.
    func hubMetrics(_ url: String) async throws -> [String] {
        let (data, _) = try await URLSession.shared.data(from: URL(string: url + "/metrics")!)
        var buckets: [String: [(Double, Int)]] = [:]
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n")
        where line.hasPrefix("kmk_hub_request_duration_seconds_bucket{") {
            guard let r = line.range(of: "route=\""), let e = line[r.upperBound...].firstIndex(of: "\""),
                  let l = line.range(of: "le=\""), let le = line[l.upperBound...].firstIndex(of: "\""),
                  let count = Int(line.split(separator: " ").last ?? "") else { continue }
            let route = String(line[r.upperBound..<e])
            let bound = line[l.upperBound..<le] == "+Inf" ? Double.infinity : Double(line[l.upperBound..<le]) ?? 0
            buckets[route, default: []].append((bound, count))
        }
        return buckets.sorted { $0.key < $1.key }.compactMap { route, list in
            let sorted = list.sorted { $0.0 < $1.0 }
            guard let total = sorted.last?.1, total > 0 else { return nil }
            func q(_ p: Double) -> String {
                let bound = sorted.first { Double($0.1) >= p * Double(total) }?.0 ?? .infinity
                return bound.isInfinite ? "> 5 s" : "≤ \(bound * 1_000) ms"
            }
            return "\(route) × \(total): p50 \(q(0.5)), p99 \(q(0.99))"
        }
    }

    func hubChecksum(_ url: String, _ code: String, token: String) async throws -> (checksum: String, count: Int) {
        var request = URLRequest(url: URL(string: "\(url)/v1/checksum?schema=1&municipality=\(code)")!)
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.timeoutInterval = 120
        let (data, _) = try await URLSession.shared.data(for: request)
        let json = try JSONValue.parse(String(decoding: data, as: UTF8.self))
        return (json["checksum"]?.stringValue ?? "", json["registers"]?.intValue ?? -1)
    }
}

/// One client of the load test: its own replica file and HTTP session; writes venues (and now
/// and then a record every client of the municipality writes, for conflicts), pushes and pulls.
struct LoadClient: Sendable {
    enum Route: Sendable { case push, pull }
    enum Phase: Sendable { case push, pull }

    struct Sample: Sendable {
        var route: Route
        /// The HTTP status, 0 for a connection error or timeout.
        var status: Int
        var micros: Int
    }

    struct Result: Sendable {
        var index: Int
        var municipality: String
        var samples: [Sample] = []
        var loopSamples = 0
        var writes = 0
        var changesPushed = 0
        var changesPulled = 0
        /// The venues this client created, with the last staff count it wrote.
        var written: [String: Int64] = [:]
        var problems: [String] = []
    }

    let index: Int
    let municipality: String
    let path: String
    let hub: String
    let token: String
    let seed: UInt64

    /// The record every client of a municipality writes (a fixed id per municipality).
    var sharedVenue: String { "00000000-0000-4000-8000-00000000\(municipality)" }

    func makeSession() -> URLSession {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 120
        configuration.timeoutIntervalForResource = 240
        return URLSession(configuration: configuration)
    }

    func create() throws {
        var rng = SplitMix64(seed: seed ^ 0xC4)
        try Replica.create(at: path, municipality: Municipality.byCode[municipality]!, replicaID: RecordID.make(using: &rng)).close()
    }

    func run(for seconds: Double) async throws -> Result {
        let end = Date().addingTimeInterval(seconds)
        var rng = SplitMix64(seed: seed)
        var result = Result(index: index, municipality: municipality)
        let replica = try Replica.open(at: path)
        defer { replica.close() }
        let session = makeSession()
        var owned: [String] = []
        var rounds = 0
        while Date() < end || rounds < 2, rounds < 100_000, result.problems.isEmpty {
            rounds += 1
            for _ in 0..<Int.random(in: 1...8, using: &rng) {
                let staff = Int64.random(in: 0...10_000, using: &rng)
                if owned.isEmpty || Int.random(in: 0..<3, using: &rng) == 0 {
                    let id = RecordID.make(using: &rng)
                    _ = try replica.insert("venue", id: id, fields: [
                        "name": .text("Krog \(index)-\(owned.count)"), "membership": .text("member"), "staff_count": .integer(staff),
                    ])
                    owned.append(id)
                    result.written[id] = staff
                } else {
                    let id = owned.randomElement(using: &rng)!
                    try replica.update("venue", id: id, fields: ["staff_count": .integer(staff)])
                    result.written[id] = staff
                }
                result.writes += 1
            }
            if Int.random(in: 0..<10, using: &rng) == 0 {
                _ = try replica.set("venue", id: sharedVenue, fields: [
                    "name": .text("Gemensam krog"), "membership": .text("member"),
                    "door_staff_count": .integer(Int64(index)),
                ])
                result.writes += 1
            }
            try await push(replica, session, &result, &rng)
            try await pull(replica, session, &result, &rng)
        }
        result.loopSamples = result.samples.count
        return result
    }

    /// The final round, after the loop: push everything, or pull everything.
    func finish(_ phase: Phase) async throws -> Result {
        var rng = SplitMix64(seed: seed ^ 0xF1)
        var result = Result(index: index, municipality: municipality)
        let replica = try Replica.open(at: path)
        defer { replica.close() }
        let session = makeSession()
        switch phase {
        case .push: try await push(replica, session, &result, &rng)
        case .pull: try await pull(replica, session, &result, &rng)
        }
        return result
    }

    /// Sends one request; records its status and latency. Nil for anything but a 200.
    func send(_ request: URLRequest, _ route: Route, _ session: URLSession, _ result: inout Result) async -> JSONValue? {
        let start = DispatchTime.now().uptimeNanoseconds
        var status = 0
        var body: JSONValue?
        do {
            let (data, response) = try await session.data(for: request)
            status = (response as? HTTPURLResponse)?.statusCode ?? 0
            var bytes = [UInt8](data)
            if Gzip.isGzip(bytes) { bytes = (try? Gzip.decompress(bytes, limit: 256 * 1024 * 1024)) ?? bytes }
            let text = String(decoding: bytes, as: UTF8.self)
            if status == 200 {
                body = try? JSONValue.parse(text)
            } else {
                result.problems.append("\(route) answered \(status): \(text.prefix(200))")
            }
        } catch {
            result.problems.append("\(route): \(error.localizedDescription)")
        }
        result.samples.append(Sample(route: route, status: status, micros: Int((DispatchTime.now().uptimeNanoseconds - start) / 1_000)))
        return body
    }

    func push(_ replica: Replica, _ session: URLSession, _ result: inout Result, _ rng: inout SplitMix64) async throws {
        for _ in 0..<10_000 {
            guard let (batch, upTo) = try replica.nextPushBatch(maxCount: Int.random(in: 20...200, using: &rng), maxBytes: 1_000_000)
            else { return }
            var request = URLRequest(url: URL(string: hub + "/v1/push")!)
            request.httpMethod = "POST"
            request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            let body = Array(batch.json().utf8)
            if body.count >= 1_024 {
                request.httpBody = Data(Gzip.compress(body))
                request.setValue("gzip", forHTTPHeaderField: "Content-Encoding")
            } else {
                request.httpBody = Data(body)
            }
            guard let json = await send(request, .push, session, &result) else { return }
            let reply = try PushReply(json: json)
            guard reply.lastBatch == batch.batch else {
                result.problems.append("push: batch \(batch.batch) answered with last batch \(reply.lastBatch)")
                return
            }
            try replica.acknowledgePush(batch: batch.batch, upTo: upTo, hubID: reply.hub)
            result.changesPushed += batch.changes.count
        }
        result.problems.append("push did not finish in 10,000 batches")
    }

    func pull(_ replica: Replica, _ session: URLSession, _ result: inout Result, _ rng: inout SplitMix64) async throws {
        for _ in 0..<10_000 {
            var components = URLComponents(string: hub + "/v1/changes")!
            components.queryItems = [URLQueryItem(name: "schema", value: "1"),
                                     URLQueryItem(name: "limit", value: String(Int.random(in: 100...1_000, using: &rng)))]
                + (try replica.remoteState().cursor.map { [URLQueryItem(name: "cursor", value: $0)] } ?? [])
            components.percentEncodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
            var request = URLRequest(url: components.url!)
            request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
            request.setValue("gzip", forHTTPHeaderField: "Accept-Encoding")
            guard let json = await send(request, .pull, session, &result) else { return }
            let page = try PullPage(json: json)
            try replica.applyPulled(page)
            result.changesPulled += page.changes.count
            if !page.more { return }
        }
        result.problems.append("pull did not finish in 10,000 pages")
    }
}

/// A real `kmk-sync hub serve` process on 127.0.0.1 with an ephemeral port.
final class LoadHub {
    let process = Process()
    let url: String

    init(db: String, folder: URL) throws {
        let out = folder.appendingPathComponent("hub.out").path
        let log = folder.appendingPathComponent("hub.log").path
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        process.executableURL = URL(fileURLWithPath: KMKSyncBinary.path)
        process.arguments = ["hub", "serve", "--db", db, "--host", "127.0.0.1", "--port", "0", "--log-level", "warning"]
        process.standardOutput = FileHandle(forWritingAtPath: out)
        process.standardError = FileHandle(forWritingAtPath: log)
        process.standardInput = FileHandle.nullDevice
        try ChildProcess.run(process)
        let deadline = Date().addingTimeInterval(30)
        var found: String?
        while found == nil, Date() < deadline, process.isRunning {
            let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("listening on ") }) {
                found = String(line.dropFirst("listening on ".count))
            } else {
                usleep(20_000)
            }
        }
        guard let found else {
            if process.isRunning { process.terminate() }
            throw LoadHubFailure(log: (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
        }
        url = found
    }

    struct LoadHubFailure: Error, CustomStringConvertible {
        let log: String
        var description: String { "the hub did not print its address within 30 s: \(log)" }
    }

    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(30)
        while process.isRunning, Date() < deadline { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
}
