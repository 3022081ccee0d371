import Foundation
import KMKClient
import KMKModel
import KMKReplica
import KMKSync

extension Bench {
    /// P6: every municipality's replica (290), each with about 1,000 new changes, syncs through
    /// one hub, a few at once; the total wall time and the hub's peak memory.
    func nationalNight() async throws -> [BenchLine] {
        let count = min(sizes.nightReplicas, Municipality.all.count)
        let municipalities = Array(Municipality.all.prefix(count))
        let venues = max(1, (sizes.nightChangesPerReplica - 2) / 9)
        say("P6 national night: making \(count) replicas of \(venues * 9 + 2) changes each")
        let (hub, tokens) = try await BenchHub.start(dbPath: newPath("p6-hub.db"), executable: options.executable, launch: options.launch,
                                                      scopes: municipalities.map { .municipality($0.code) })
        var paths: [(path: String, code: String, token: String)] = []
        for (k, m) in municipalities.enumerated() {
            let replica = try Replica.create(at: newPath("p6-\(m.code).kmk"), municipality: m)
            try replica.importRecords(VenueRows(count: venues, seed: 600 + UInt64(k)).records(), mode: .merge)
            paths.append((replica.path, m.code, tokens[.municipality(m.code)]!))
            replica.close()
        }
        let perReplica = venues * 9 + 2
        let url = hub.url
        let concurrency = max(1, sizes.nightConcurrency)
        say("P6: \(count) replicas sync, \(concurrency) at once")
        let (results, seconds) = try await time {
            try await withThrowingTaskGroup(of: NightResult.self) { group in
                var next = 0
                var out: [NightResult] = []
                func add() {
                    let job = paths[next]
                    next += 1
                    group.addTask { try await Bench.nightSync(path: job.path, url: url, token: job.token) }
                }
                while next < min(concurrency, paths.count) { add() }
                while let r = try await group.next() {
                    out.append(r)
                    if next < paths.count { add() }
                }
                return out
            }
        }
        let peak = hub.peakMemoryBytes()
        // Check: each replica's registers equal the hub's, by the protocol's checksum.
        var checked = 0
        for job in paths {
            let client = try HubClient(url: url, token: job.token)
            let hubSum = try await client.checksum(municipality: job.code)
            let replica = try Replica.open(at: job.path)
            let ours = try replica.checksum()
            replica.close()
            guard hubSum.checksum == ours.checksum, hubSum.count == perReplica else {
                throw BenchError("P6: replica \(job.code) and the hub differ (\(ours.count) vs \(hubSum.count) registers)")
            }
            checked += 1
        }
        await hub.stop()
        let pushed = results.reduce(0) { $0 + $1.pushed }
        let pulled = results.reduce(0) { $0 + $1.pulled }
        guard pushed == count * perReplica, pulled == count * perReplica else {
            throw BenchError("P6: pushed \(pushed) and pulled \(pulled) changes; expected \(count * perReplica) each")
        }
        let memory = peak.map { Figure.bytes($0) + (hub.isSubprocess ? "" : " (whole bench process: hub in-process)") } ?? "unknown"
        return [BenchLine(
            id: "P6", what: "national night: \(count) replicas × \(Figure.grouped(perReplica)) changes sync through one hub, "
                + "\(concurrency) at once",
            ours: Figure.seconds(seconds) + ", hub peak memory " + memory, baseline: "", ratio: seconds / 30,
            ratioMeaning: "of the 30 s target", target: "≤ 30 s", met: seconds <= 30,
            check: "all \(checked) replicas' checksums equal the hub's (\(perReplica) registers each); "
                + "\(pushed) changes pushed, \(pulled) pulled",
            figures: ["replicas": Double(count), "changes_per_replica": Double(perReplica), "seconds": seconds,
                      "hub_peak_bytes": Double(peak ?? 0), "concurrency": Double(concurrency)])]
    }

    struct NightResult: Sendable {
        var pushed: Int
        var pulled: Int
    }

    /// One replica's nightly `sync`.
    static func nightSync(path: String, url: String, token: String) async throws -> NightResult {
        let replica = try Replica.open(at: path)
        defer { replica.close() }
        let result = try await SyncEngine(replica: replica, client: try HubClient(url: url, token: token)).sync()
        return NightResult(pushed: result.push.changes, pulled: result.pull.changes)
    }
}
