import Foundation
import KMKModel
import KMKReplica
import KMKSync
import KMKTestSupport
import Testing

/// Several connections on one replica file, as several kmk-sync processes and other SQLite
/// clients have (SPEC.md §4): each works from what the file holds when its write transaction
/// starts, never from what it read before, so no sequence number is shared and no write is lost.
/// Each test is a reproduction from the no-write-lost issue, with `Replica` objects opened
/// separately standing for separate processes.
@Suite("Concurrent writers on one replica")
struct ConcurrentWritersTests {
    /// A replica file of Eskilstuna in a new temporary folder.
    func newFile() throws -> (dir: TempDir, path: String) {
        let dir = try TempDir()
        let path = dir.path("a.kmk")
        try Replica.create(at: path, municipality: eskilstuna).close()
        return (dir, path)
    }

    /// Every change a full push of `r` would send, as `entity|id|field` keys, and the push mark after it.
    func pushAll(_ r: Replica) throws -> Set<String> {
        var sent = Set<String>()
        for _ in 0..<100 {
            guard let (batch, upTo) = try r.nextPushBatch(maxCount: 1_000, maxBytes: 1_000_000) else { return sent }
            for c in batch.changes { sent.insert("\(c.entity)|\(c.id)|\(c.field)") }
            try r.acknowledgePush(batch: batch.batch, upTo: upTo, hubID: "hub")
        }
        Issue.record("100 batches and still pushing")
        return sent
    }

    /// The sequence numbers of the records (each record has one), which must be unique.
    func recordNumbers(_ path: String) throws -> [Int64] {
        let out = try sqlite3Shell(path, "SELECT seq FROM venue UNION ALL SELECT seq FROM kmk_venue_gone "
            + "UNION ALL SELECT seq FROM municipality ORDER BY 1").stdout
        return out.split(separator: "\n").compactMap { Int64($0) }
    }

    @Test("two processes that opened the file before either wrote take different sequence numbers")
    func twoWritersOpenedTogether() throws {
        let (dir, path) = try newFile()
        defer { withExtendedLifetime(dir) {} }
        let p1 = try Replica.open(at: path)
        let p2 = try Replica.open(at: path)
        let v = try p1.insert("venue", fields: ["name": .text("V"), "membership": .text("member")])
        let w = try p2.insert("venue", fields: ["name": .text("W"), "membership": .text("member")])
        let numbers = try recordNumbers(path)
        #expect(Set(numbers).count == numbers.count, "sequence numbers shared: \(numbers)")
        p1.close()
        let sent = try pushAll(p2)
        #expect(sent.contains("venue|\(v)|name") && sent.contains("venue|\(w)|name"), "\(sent)")
        let findings = try p2.check()
        #expect(findings.allSatisfy { $0.ok }, "\(findings.filter { !$0.ok })")
        p2.close()
    }

    @Test("a venue added while a sync applies a pulled page stays pending and is pushed")
    func addDuringPull() throws {
        let (dir, path) = try newFile()
        defer { withExtendedLifetime(dir) {} }
        let other = try Replica.create(at: dir.path("b.kmk"), municipality: eskilstuna)
        let x = try other.insert("venue", fields: ["name": .text("X"), "membership": .text("member")])
        let page = PullPage(hub: "hub", schema: 1, changes: try other.changes(after: 0, limit: 1_000).map(\.change),
                            cursor: "c1.hub.1.t", more: false)
        let sync = try Replica.open(at: path)
        _ = try pushAll(sync)  // nothing local left unpushed: the pull may move the push mark
        let cli = try Replica.open(at: path)
        let v = try cli.insert("venue", fields: ["name": .text("V"), "membership": .text("member")])
        try sync.applyPulled(page)
        #expect(try sync.pendingOutgoing() > 0, "the venue added meanwhile counts as pushed")
        let sent = try pushAll(sync)
        #expect(sent.contains("venue|\(v)|name"), "\(sent)")
        #expect(try sync.record("venue", id: x) != nil)
        let numbers = try recordNumbers(path)
        #expect(Set(numbers).count == numbers.count, "sequence numbers shared: \(numbers)")
        sync.close()
        cli.close()
        other.close()
    }

    @Test("an SQL INSERT made during a sync and stamped by another command is pushed")
    func externalInsertStampedElsewhere() throws {
        let (dir, path) = try newFile()
        defer { withExtendedLifetime(dir) {} }
        let other = try Replica.create(at: dir.path("b.kmk"), municipality: eskilstuna)
        _ = try other.insert("venue", fields: ["name": .text("X"), "membership": .text("member")])
        let page = PullPage(hub: "hub", schema: 1, changes: try other.changes(after: 0, limit: 1_000).map(\.change),
                            cursor: "c1.hub.1.t", more: false)
        let sync = try Replica.open(at: path)
        _ = try pushAll(sync)
        let shell = try sqlite3Shell(path, "INSERT INTO venue (id, name, membership) VALUES "
            + "('0b0b0b0b-0000-4000-8000-000000000001', 'Sqlite bar', 'member')")
        #expect(shell.status == 0, "\(shell.stderr)")
        // Another command (status, export, check, a refused sync) opens the file: it stamps the edit.
        try Replica.open(at: path).close()
        try sync.applyPulled(page)
        let sent = try pushAll(sync)
        #expect(sent.contains("venue|0b0b0b0b-0000-4000-8000-000000000001|name"), "\(sent)")
        let numbers = try recordNumbers(path)
        #expect(Set(numbers).count == numbers.count, "sequence numbers shared: \(numbers)")
        sync.close()
        other.close()
    }

    @Test("two overlapping syncs never move the counters back, and the next write is pushed")
    func overlappingSyncs() throws {
        let (dir, path) = try newFile()
        defer { withExtendedLifetime(dir) {} }
        let other = try Replica.create(at: dir.path("b.kmk"), municipality: eskilstuna)
        _ = try other.insert("venue", fields: ["name": .text("X"), "membership": .text("member")])
        let first = PullPage(hub: "hub", schema: 1, changes: try other.changes(after: 0, limit: 1_000).map(\.change),
                             cursor: "c1.hub.1.t", more: false)
        let mark = try other.maxSeq()
        _ = try other.insert("venue", fields: ["name": .text("Y"), "membership": .text("member")])
        let second = PullPage(hub: "hub", schema: 1, changes: try other.changes(after: mark, limit: 1_000).map(\.change),
                              cursor: "c1.hub.2.t", more: false)
        let s1 = try Replica.open(at: path)
        let s2 = try Replica.open(at: path)
        _ = try pushAll(s1)
        try s2.applyPulled(first)
        let seqAfterFirst = try sqlite3Shell(path, "SELECT value FROM kmk_meta WHERE key = 'seq'").stdout
        let hlcAfterFirst = try sqlite3Shell(path, "SELECT value FROM kmk_meta WHERE key = 'hlc'").stdout
        try s1.applyPulled(second)
        let seq = try sqlite3Shell(path, "SELECT value FROM kmk_meta WHERE key = 'seq'").stdout
        let hlc = try sqlite3Shell(path, "SELECT value FROM kmk_meta WHERE key = 'hlc'").stdout
        #expect(Int64(seq.trimmingCharacters(in: .whitespacesAndNewlines))! > Int64(seqAfterFirst.trimmingCharacters(in: .whitespacesAndNewlines))!,
                "second page: \(second.changes.map(\.field)), first: \(first.changes.map(\.field))")
        #expect(Int64(hlc.trimmingCharacters(in: .whitespacesAndNewlines))! >= Int64(hlcAfterFirst.trimmingCharacters(in: .whitespacesAndNewlines))!)
        s1.close()
        s2.close()
        let later = try Replica.open(at: path)
        let v = try later.insert("venue", fields: ["name": .text("V"), "membership": .text("member")])
        let numbers = try recordNumbers(path)
        #expect(Set(numbers).count == numbers.count, "sequence numbers shared: \(numbers)")
        let sent = try pushAll(later)
        #expect(sent.contains("venue|\(v)|name"), "\(sent)")
        later.close()
        other.close()
    }

    @Test("an SQL edit during a push never lets the push mark pass a record's unpushed creation")
    func externalEditDuringPush() throws {
        let (dir, path) = try newFile()
        defer { withExtendedLifetime(dir) {} }
        let r = try Replica.open(at: path)
        _ = try pushAll(r)
        let v = try r.insert("venue", fields: ["name": .text("V"), "membership": .text("member")])
        let w = try r.insert("venue", fields: ["name": .text("W"), "membership": .text("member")])
        // The sync reads its batch once the hub answers; the edit came in between.
        let shell = try sqlite3Shell(path, "UPDATE venue SET address = 'Storgatan 1' WHERE name = 'V'")
        #expect(shell.status == 0, "\(shell.stderr)")
        let sent = try pushAll(r)
        for key in ["venue|\(v)|name", "venue|\(v)|address", "venue|\(v)|$cl", "venue|\(w)|name"] {
            #expect(sent.contains(key), "never pushed: \(key) (sent \(sent.sorted()))")
        }
        #expect(try r.pendingOutgoing() == 0)
        r.close()
    }

    @Test("a municipality's replica never pushes the national data it pulled, not even its whole log after a restore")
    func neverPushesNationalData() throws {
        let (dir, path) = try newFile()
        defer { withExtendedLifetime(dir) {} }
        let national = try Replica.create(at: dir.path("n.kmk"), municipality: .national)
        _ = try national.publishDefaultCriteria()
        let criteria = try national.changes(after: 0, limit: 10_000).map(\.change)
        #expect(!criteria.isEmpty)
        let r = try Replica.open(at: path)
        _ = try pushAll(r)
        try r.applyPulled(PullPage(hub: "hub", schema: 1, changes: criteria, cursor: "c1.hub.1.t", more: false))
        let v = try r.insert("venue", fields: ["name": .text("V"), "membership": .text("member")])
        // The whole log again, as after a restored hub (SPEC.md §11.4).
        try r.restartPush(nextBatch: 5)
        let sent = try pushAll(r)
        #expect(sent.contains("venue|\(v)|name"))
        #expect(!sent.contains { $0.hasPrefix("criteri") }, "\(sent.filter { $0.hasPrefix("criteri") }.sorted().prefix(3))")
        r.close()
        national.close()
    }

    @Test("an SQL edit between reading a batch and its acknowledgement is pushed afterwards")
    func externalEditBeforeAcknowledgement() throws {
        let (dir, path) = try newFile()
        defer { withExtendedLifetime(dir) {} }
        let r = try Replica.open(at: path)
        _ = try pushAll(r)
        let v = try r.insert("venue", fields: ["name": .text("V"), "membership": .text("member")])
        _ = try r.insert("venue", fields: ["name": .text("W"), "membership": .text("member")])
        let (batch, upTo) = try #require(try r.nextPushBatch(maxCount: 1_000, maxBytes: 1_000_000))
        var sent = Set(batch.changes.map { "\($0.entity)|\($0.id)|\($0.field)" })
        #expect(try sqlite3Shell(path, "UPDATE venue SET address = 'Storgatan 1' WHERE name = 'V'").status == 0)
        try r.acknowledgePush(batch: batch.batch, upTo: upTo, hubID: "hub")
        sent.formUnion(try pushAll(r))
        #expect(sent.contains("venue|\(v)|address"), "\(sent.sorted())")
        r.close()
    }
}
