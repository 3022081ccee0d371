import Foundation
import KMKModel
@testable import KMKReplica
import KMKSync
import KMKTestSupport
import Testing

/// Imports capture their changes themselves, with the triggers off (``DirectCapture``, SPEC.md
/// §4, "Direct capture"). Whatever an import holds, the file must end exactly as if the capture
/// triggers had written it: the same rows with the same register columns, the same kept rows,
/// the same next push. Two replicas with one site id and one hand-moved clock get the same random history;
/// one imports directly, the other through the triggers, and their files are compared after
/// every step.
@Suite("Direct capture (property)")
struct DirectCaptureTests {
    static let histories = 12
    static let steps = 30

    @Test("random imports (new, live, deleted and repeated records; nulls, unchanged values, local fields) write what the triggers write")
    func sameAsTriggers() throws {
        let seed = ProcessInfo.processInfo.environment["KMK_DIRECT_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 0...UInt64.max)
        print("direct capture: seed \(seed) (replay with KMK_DIRECT_SEED=\(seed)), \(Self.histories) histories × \(Self.steps) steps")
        var rng = SplitMix64(seed: seed)
        var stats = (imports: 0, refused: 0, recreated: 0, pushes: 0, outside: 0)
        let started = Date()
        for history in 0..<Self.histories {
            guard Date().timeIntervalSince(started) < 120 else {
                Issue.record("seed \(seed): stopped after \(history) histories (120 s)")
                break
            }
            let dir = try TempDir()
            let clock = ManualClock()
            let site = RecordID.make(using: &rng)
            let direct = try Replica.create(at: dir.path("direct.kmk"), municipality: eskilstuna, replicaID: site, now: clock.clock)
            let triggered = try Replica.create(at: dir.path("triggers.kmk"), municipality: eskilstuna, replicaID: site, now: clock.clock)
            triggered.capturesImportsDirectly = false
            defer {
                direct.close()
                triggered.close()
            }
            for step in 0..<Self.steps {
                clock.advance(seconds: Double(Int.random(in: 0...3, using: &rng)))
                switch Int.random(in: 0..<10, using: &rng) {
                case 0:
                    // A delete, so that later imports re-create records.
                    let alive = try direct.records("venue").map(\.id)
                    if let id = alive.randomElement(using: &rng) {
                        try direct.delete("venue", id: id)
                        try triggered.delete("venue", id: id)
                    }
                case 1:
                    // Everything pushed: registers at or below the push mark keep their numbers.
                    for r in [direct, triggered] {
                        if let (batch, upTo) = try r.nextPushBatch(maxCount: 1_000_000, maxBytes: 100_000_000) {
                            try r.acknowledgePush(batch: batch.batch, upTo: upTo, hubID: "hub")
                        }
                    }
                    stats.pushes += 1
                case 2:
                    // Another program's edit, left pending until the next kmk-sync write.
                    if let id = try direct.records("venue").map(\.id).randomElement(using: &rng) {
                        let n = Int.random(in: 0...500, using: &rng)
                        for r in [direct, triggered] { try r.db.execute("UPDATE venue SET staff_count = \(n) WHERE id = '\(id)'") }
                        stats.outside += 1
                    }
                default:
                    let (records, mode, recreated) = try Self.batch(direct, &rng)
                    stats.recreated += recreated
                    var outcomes: [String] = []
                    for r in [direct, triggered] {
                        do {
                            let (created, updated) = try r.importRecords(records, mode: mode)
                            outcomes.append("created \(created), updated \(updated)")
                        } catch {
                            outcomes.append("refused: \(error)")
                        }
                    }
                    #expect(outcomes[0] == outcomes[1], "seed \(seed), history \(history), step \(step)")
                    if outcomes[0].hasPrefix("refused") { stats.refused += 1 } else { stats.imports += 1 }
                }
                let a = try Self.tables(direct)
                let b = try Self.tables(triggered)
                #expect(a == b, "seed \(seed), history \(history), step \(step): the files differ")
                #expect(try direct.maxSeq() == triggered.maxSeq(), "seed \(seed), history \(history), step \(step)")
                if a != b { return }
            }
        }
        print("direct capture: \(stats.imports) imports, \(stats.refused) refused alike, \(stats.recreated) re-creations, "
            + "\(stats.pushes) pushes, \(stats.outside) outside edits")
        #expect(stats.imports > Self.histories * 5, "seed \(seed): too few imports to say much")
        #expect(stats.recreated > 0 && stats.outside > 0 && stats.pushes > 0, "seed \(seed): a kind of step never happened")
    }

    /// A random import: records of several entities, new, alive, deleted or repeated, with random
    /// subsets of fields. Returns how many records it re-creates (written through the triggers).
    @Test("no field of the schema has the name of a register column, which every entity's table also has")
    func registerColumnsAreReserved() {
        for e in Schema.current.entities {
            let reserved = Set(LogTable.registerColumns)
            for f in e.fields {
                #expect(!reserved.contains(f.name), "\(e.name).\(f.name)")
                #expect(f.name.wholeMatch(of: /[hsbq][0-9]+|cl|seq|t|pend|wseq|regs/) == nil, "\(e.name).\(f.name)")
            }
        }
    }

    static func batch(_ r: Replica, _ rng: inout SplitMix64) throws -> ([Record], Replica.ImportMode, Int) {
        var records: [Record] = []
        var recreated = 0
        for _ in 0..<Int.random(in: 1...10, using: &rng) {
            let e: EntitySpec = Int.random(in: 0..<3, using: &rng) == 0
                ? RandomEdits.editable.randomElement(using: &rng)! : .venue
            let alive = try r.records(e.name).map(\.id)
            let deleted = try r.deletedIDs(e.name)
            var id: String
            switch Int.random(in: 0..<10, using: &rng) {
            case 0..<4: id = e.identity == .random ? RecordID.make(using: &rng) : eskilstuna.code
            case 4..<7: id = alive.randomElement(using: &rng) ?? RecordID.make(using: &rng)
            case 7..<9: id = deleted.randomElement(using: &rng) ?? RecordID.make(using: &rng)
            default: id = records.last { $0.entity == e.name }?.id ?? RecordID.make(using: &rng)
            }
            if e.identity != .random { id = eskilstuna.code }
            if deleted.contains(id), !records.contains(where: { $0.entity == e.name && $0.id == id }) { recreated += 1 }
            var fields: [String: Value] = [:]
            let current = try r.record(e.name, id: id)
            for f in e.fields where (f.required && Int.random(in: 0..<40, using: &rng) > 0) || Bool.random(using: &rng) {
                // Often the value the record already has: not a change.
                if let v = current?[f.name], !v.isNull, Int.random(in: 0..<3, using: &rng) == 0 {
                    fields[f.name] = v
                } else if let v = try RandomEdits.randomValue(f, r, &rng, required: f.required) {
                    fields[f.name] = v
                }
            }
            records.append(Record(entity: e.name, id: id, fields: fields))
        }
        return (records, Bool.random(using: &rng) ? .merge : .replace, recreated)
    }

    /// Every row of every domain table and kept-values table, with their registers.
    static func tables(_ r: Replica) throws -> [String] {
        var out: [String] = []
        for t in r.logTables {
            for table in [t.entity.name, t.gone] {
                out += try r.db.prepare("SELECT * FROM \(table) ORDER BY id").rows { row in
                    table + ": " + (0..<row.columnCount).map { row.value($0).description }.joined(separator: " ")
                }
            }
        }
        return out
    }
}
