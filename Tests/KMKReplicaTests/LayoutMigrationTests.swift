import Foundation
import KMKModel
import KMKReplica
import KMKSync
import KMKTestSupport
import Testing

/// Files made by kmk-sync with an older change-log layout open as the current one with nothing
/// lost (SPEC.md §2, "Older files"). The layout-1 fixture (one `kmk_clock` row per field) was made
/// with the layout-1 build (Fixtures/layout1/README.md): imports, updates, a delete, a restore, two
/// replicas merging with conflicts and a delete beating concurrent updates, a push cursor, and an
/// edit from the sqlite3 shell left pending. The layout-2 fixture (absolute clocks in each clock
/// row) is that file opened by the layout-2 build, with more edits (Fixtures/layout2/README.md);
/// the layout-3 fixture (the old ledger) and the layout-4 fixture (clock rows beside the records'
/// rows, with pending edits of every kind) were made the same way by their builds, and so were
/// the layout-5 and layout-6 fixtures (four columns per register in the records' own rows), whose
/// registers a test here decodes from the layout-7 blob by SPEC.md §2's rules.
@Suite("Change-log layout migration")
struct LayoutMigrationTests {
    static let fixtures = PackageDirectory.url("Fixtures/layout1")

    /// Rows of a query run by the sqlite3 shell, one string per row (columns joined by '|').
    func query(_ path: String, _ sql: String) throws -> [String] {
        let result = try sqlite3Shell(path, sql)
        #expect(result.status == 0, "sqlite3 failed: \(result.stderr)")
        return result.stdout.split(separator: "\n").map(String.init)
    }

    /// `entity|id|field` of a layout-1 row `tbl|pk|col`.
    func key(_ row: String) -> String {
        let parts = row.split(separator: "|").map(String.init)
        let e = Schema.current.entity(number: Int(parts[0])!)!
        let col = Int(parts[2])!
        return "\(e.name)|\(parts[1])|\(col == 0 ? Change.lifecycleField : e.field(number: col)!.name)"
    }

    func key(_ c: Change) -> String { "\(c.entity)|\(c.id)|\(c.field)" }

    /// The change as JSON members (value, clock, origin), parsed, for comparing with `log --json`.
    func members(_ c: Change) throws -> [String: Any] {
        var bytes: [UInt8] = []
        c.appendJSON(to: &bytes)
        return try #require(try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]) as? [String: Any])
    }

    /// Every change with its value, clock and origin as the old build listed them in `logFile`
    /// (`kmk-sync log --json`, made on a copy that clocked the pending edits when it opened):
    /// the changes in `pending` must instead carry this open's clock and this replica as
    /// origin. No base is below zero. Returns the old build's entries.
    @discardableResult
    func expectLog(of r: Replica, as logFile: URL, pending: Set<String>, openedAt clock: ManualClock) throws -> [[String: Any]] {
        let logText = try String(contentsOf: logFile, encoding: .utf8)
        let old = try #require(try JSONSerialization.jsonObject(with: Data(logText.utf8)) as? [[String: Any]])
        let now = Dictionary(uniqueKeysWithValues: try r.log(limit: 100_000).map { (key($0.change), $0.change) })
        #expect(now.count == old.count)
        for entry in old {
            let k = "\(entry["entity"]!)|\(entry["id"]!)|\(entry["field"]!)"
            guard let c = now[k] else {
                Issue.record("\(k) is missing after the migration")
                continue
            }
            let m = try members(c)
            #expect(m["value"] as? NSObject == entry["value"] as? NSObject, "\(k)")
            #expect(c.origin == entry["origin"] as? String, "\(k)")
            #expect(c.base.int64 >= 0, "\(k)")
            if pending.contains(k) {
                #expect(c.origin == r.replicaID && c.clock.millis == clock.millis, "the pending edit is clocked at the open: \(k)")
            } else {
                #expect(c.clock.hex == entry["clock"] as? String, "\(k)")
            }
        }
        return old
    }

    /// The next push batch holds exactly the changes `unpushed` (`entity|id|field`).
    func expectNextPush(of r: Replica, is unpushed: Set<String>) throws {
        #expect(try r.pendingOutgoing() == unpushed.count)
        let batch = try #require(try r.nextPushBatch(maxCount: 10_000, maxBytes: 10_000_000))
        #expect(Set(batch.batch.changes.map(key)) == unpushed)
    }

    /// The merge ledger of a file of layout 1 to 3 as the sqlite3 shell reads it, in listing
    /// order: `entity|id|field|delete_won|value|clock|origin|value|clock|origin|resolved_at`
    /// (winner, then loser; values quoted as SQL).
    func oldLedger(_ path: String) throws -> [String] {
        try query(path, """
            SELECT entity, pk, field, delete_won, quote(win_val), win_hlc, win_origin, quote(lose_val), lose_hlc, lose_origin, \
            resolved_at FROM kmk_ledger ORDER BY resolved_at, id
            """)
    }

    /// The replica's ledger (``Replica/conflicts(since:)``) in the form of ``oldLedger(_:)``.
    func ledger(_ r: Replica) throws -> [String] {
        func quoted(_ v: Value) -> String {
            switch v {
            case .null: "NULL"
            case .integer(let i): String(i)
            case .real(let d): String(d)
            case .text(let s): "'" + s.replacingOccurrences(of: "'", with: "''") + "'"
            }
        }
        return try r.conflicts(since: nil).map { e in
            [e.entity, e.id, e.field, e.deleteWon ? "1" : "0", quoted(e.winner.value), String(e.winner.clock.int64), e.winner.origin,
             quoted(e.loser.value), String(e.loser.clock.int64), e.loser.origin, String(e.resolvedAt.int64)].joined(separator: "|")
        }
    }

    @Test("a layout-1 file opens as layout 7 with every record, change, ledger entry and push state kept")
    func migratesFixture() throws {
        let dir = try TempDir()
        let path = dir.path("old.kmk")
        try FileManager.default.copyItem(atPath: Self.fixtures.appendingPathComponent("0484-layout1.kmk").path, toPath: path)
        // What layout 1 holds, read before kmk-sync opens the file.
        let pushed = try pushMark(path)
        let unpushed = Set(try query(path, "SELECT tbl, pk, col FROM kmk_clock WHERE seq > \(pushed) OR seq IS NULL").map(key))
        let pending = Set(try query(path, "SELECT tbl, pk, col FROM kmk_clock WHERE seq IS NULL").map(key))
        let ledger = try oldLedger(path)
        #expect(pending.count == 1 && unpushed.count > pending.count && !ledger.isEmpty, "the fixture covers these cases")

        let clock = ManualClock("2026-11-27T08:00:00Z")
        var r = try Replica.open(at: path, now: clock.clock)
        #expect(try r.meta("log_layout") == .integer(7))
        #expect(try query(path, "SELECT count(*) FROM sqlite_master WHERE name = 'kmk_clock'") == ["0"])
        #expect(try self.ledger(r) == ledger)
        #expect(try r.check().filter { !$0.ok }.map(\.detail) == [])

        // The records, local-only fields included, as the layout-1 build exported them.
        let export = try String(contentsOf: Self.fixtures.appendingPathComponent("0484-layout1.export-local.json"), encoding: .utf8)
        #expect(try r.export(includeLocal: true).encoded() == export)

        // Every change with its value, clock and origin, as the layout-1 build listed them (there,
        // too, the pending edit was clocked when the file was opened).
        let old = try expectLog(of: r, as: Self.fixtures.appendingPathComponent("0484-layout1.log.jsonl"), pending: pending,
                                openedAt: clock)

        // The next push sends exactly what layout 1 had not pushed.
        try expectNextPush(of: r, is: unpushed)

        // A record deleted in layout 1 comes back with the values it had (kept, not in its table).
        let deleted = try r.deletedIDs("venue")
        #expect(!deleted.isEmpty)
        for id in deleted {
            let before = old.filter { "\($0["entity"]!)" == "venue" && "\($0["id"]!)" == id && "\($0["field"]!)" == "name" }
            try r.restore("venue", id: id)
            #expect(try r.record("venue", id: id)?["name"].text == before.first?["value"] as? String)
        }
        #expect(try r.check().filter { !$0.ok }.map(\.detail) == [])
        r.close()

        // Opening again changes nothing more.
        let after = r.path
        r = try Replica.open(at: after, now: clock.clock)
        #expect(try r.meta("log_layout") == .integer(7))
        r.close()
        try expectCurrentSchema(path, in: dir)
    }

    @Test("a layout-2 file opens as layout 7 with every record, change, clock, ledger entry and push state kept")
    func migratesLayout2Fixture() throws {
        let dir = try TempDir()
        let (path, fixtures) = try copyFixture(layout: 2, into: dir)
        let pushed = try pushMark(path)
        let pending = try clockRowRegisters(path) { "q\($0) = -1" }
        let unpushed = try clockRowRegisters(path) { "(q\($0) = -1 OR q\($0) > \(pushed))" }
        let ledger = try oldLedger(path)
        let recordSeqs = try query(path, "SELECT id, seq FROM kmk_venue_clock WHERE seq IS NOT NULL ORDER BY id")
        #expect(pending.count >= 3 && unpushed.count > pending.count && !ledger.isEmpty, "the fixture covers these cases")

        let clock = ManualClock("2026-11-28T08:00:00Z")
        var r = try Replica.open(at: path, now: clock.clock)
        #expect(try r.meta("log_layout") == .integer(7))
        #expect(try query(path, "SELECT count(*) FROM sqlite_master WHERE name LIKE '%layout2%'") == ["0"])
        #expect(try self.ledger(r) == ledger)
        #expect(try r.check().filter { !$0.ok && $0.name != "hub checksum" }.map(\.detail) == [])
        // Records keep their numbers (the pending ones were numbered when the file was opened).
        let after = Dictionary(uniqueKeysWithValues: try query(path, "SELECT id, seq FROM venue UNION ALL SELECT id, seq FROM kmk_venue_gone").map {
            let p = $0.split(separator: "|").map(String.init)
            return (p[0], p.count > 1 ? p[1] : "")
        })
        for row in recordSeqs {
            let p = row.split(separator: "|").map(String.init)
            #expect(after[p[0]] == p[1], "venue \(p[0]) keeps sequence number \(p[1])")
        }
        // The encoding is in use: a lifecycle written with its record's first clock and number
        // stores one flag byte (`h` 0, nothing else).
        #expect(try query(path, "SELECT count(*) FROM venue WHERE substr(regs, 1, 1) = x'01'").first.flatMap { Int($0) } ?? 0 > 0)

        let export = try String(contentsOf: fixtures.appendingPathComponent("0484-layout2.export-local.json"), encoding: .utf8)
        #expect(try r.export(includeLocal: true).encoded() == export)

        _ = try expectLog(of: r, as: fixtures.appendingPathComponent("0484-layout2.log.jsonl"), pending: pending, openedAt: clock)

        // The next push sends exactly what layout 2 had not pushed.
        try expectNextPush(of: r, is: unpushed)

        // Edits after the migration are captured as before: an update of a pushed record, a
        // delete and a restore.
        let venue = try #require(try r.records("venue").first)
        try r.update("venue", id: venue.id, fields: ["staff_count": .integer(77)])
        try r.delete("venue", id: venue.id)
        try r.restore("venue", id: venue.id)
        #expect(try r.record("venue", id: venue.id)?["staff_count"] == .integer(77))
        #expect(try r.check().filter { !$0.ok && $0.name != "hub checksum" }.map(\.detail) == [])
        r.close()

        r = try Replica.open(at: path, now: clock.clock)
        #expect(try r.meta("log_layout") == .integer(7))
        r.close()
        try expectCurrentSchema(path, in: dir)
    }

    @Test("a layout-3 file opens as layout 7: the ledger moves to site numbers, an origin it alone names gets one, the registers keep their columns")
    func migratesLayout3Fixture() throws {
        let dir = try TempDir()
        let (path, fixtures) = try copyFixture(layout: 3, into: dir)
        // A write that only ever lost here: its origin is in no clock row, so not in kmk_site.
        let stranger = "99999999-0000-4000-8000-000000000000"
        let venue = try #require(try query(path, "SELECT id FROM venue ORDER BY id LIMIT 1").first)
        _ = try query(path, """
            INSERT INTO kmk_ledger (id, entity, pk, field, delete_won, win_val, win_hlc, win_origin, lose_val, lose_hlc, lose_origin, \
            resolved_at) SELECT 'venue/\(venue)/address/k', 'venue', '\(venue)', 'address', 0, 'Storgatan 1', 117680033089454080, \
            (SELECT replica FROM kmk_site WHERE site = 0), 'O''Learys väg 2', 117680033080147968, '\(stranger)', max(resolved_at) + 1 \
            FROM kmk_ledger
            """)
        let ledger = try oldLedger(path)
        #expect(ledger.count == 4 && ledger.last?.contains(stranger) == true, "the fixture covers these cases")
        let clocks = try Self.layout4ClockRows(path)
        let triggers = try query(path, "SELECT name, replace(sql, char(10), ' ') FROM sqlite_master WHERE type = 'trigger' ORDER BY name")
        #expect(clocks.count > 90 && triggers.count == 4 * Schema.current.entities.count)

        let clock = ManualClock("2026-11-29T08:00:00Z")
        var r = try Replica.open(at: path, now: clock.clock)
        #expect(try r.meta("log_layout") == .integer(7))
        #expect(try self.ledger(r) == ledger)
        #expect(try query(path, "SELECT count(*) FROM kmk_site WHERE replica = '\(stranger)'") == ["1"])
        #expect(try query(path, "SELECT count(*) FROM sqlite_master WHERE name LIKE '%layout3%' OR name = 'kmk_ledger_time'") == ["0"])
        #expect(try Self.registerRows(path) == clocks)
        try expectCurrentSchema(path, in: dir)
        #expect(try r.check().filter { !$0.ok && $0.name != "hub checksum" }.map(\.detail) == [])
        let export = try String(contentsOf: fixtures.appendingPathComponent("0484-layout3.export-local.json"), encoding: .utf8)
        #expect(try r.export(includeLocal: true).encoded() == export)
        _ = try expectLog(of: r, as: fixtures.appendingPathComponent("0484-layout3.log.jsonl"), pending: [], openedAt: clock)

        // The triggers capture as before, and a conflict after the migration joins the ledger.
        _ = try sqlite3Shell(path, "UPDATE venue SET staff_count = 4141 WHERE id = '\(venue)';")
        r.close()
        r = try Replica.open(at: path, now: clock.clock)
        let captured = try r.log(limit: 100_000).map(\.change).filter { $0.id == venue && $0.field == "staff_count" }
        #expect(captured.count == 1 && captured.first?.value == .integer(4141) && captured.first?.origin == r.replicaID
            && captured.first?.clock.millis == clock.millis)
        let lost = Change(entity: "venue", id: venue, field: "staff_count", value: .integer(3), clock: HLC(millis: clock.millis - 60_000, counter: 0),
                          origin: stranger, municipality: "0484")
        #expect(try r.apply([lost]).conflicts.count == 1)
        let now = try self.ledger(r)
        #expect(now.count == 5 && Array(now.prefix(4)) == ledger && now[4].contains("|staff_count|0|4141|") && now[4].contains("|\(stranger)|"))
        r.close()
    }

    @Test("a layout-4 file opens as layout 7: each register moves into its record's row as it was, the sqlite3 shell's pending edits are clocked, and capture, push and the ledger carry on")
    func migratesLayout4Fixture() throws {
        let dir = try TempDir()
        let (path, fixtures) = try copyFixture(layout: 4, into: dir)
        let pushed = try pushMark(path)
        let pendingIDs = Set(try query(path, "SELECT id FROM kmk_venue_clock WHERE seq IS NULL"))
        let pending = try clockRowRegisters(path) { "q\($0) = -1" }
        let unpushed = try clockRowRegisters(path) { Self.unpushed($0, pushed: pushed) }
        let clocks = try Self.layout4ClockRows(path)
        let ledger = try query(path, "SELECT * FROM kmk_ledger ORDER BY n")
        #expect(pendingIDs.count == 4 && pending.count > 4 && unpushed.count > pending.count && ledger.count == 3,
                "the fixture covers these cases")

        let clock = ManualClock("2026-11-30T08:00:00Z")
        var r = try Replica.open(at: path, now: clock.clock)
        #expect(try r.meta("log_layout") == .integer(7))
        // Every record that was not pending has the registers it had; the pending ones were
        // clocked when the file was opened (the log below checks them).
        try expectKept(r, path, fixtures: fixtures, layout: 4, registers: clocks, pendingIDs: pendingIDs, pending: pending,
                       unpushed: unpushed, openedAt: clock)
        try expectCurrentSchema(path, in: dir)
        #expect(try query(path, "SELECT * FROM kmk_ledger ORDER BY n") == ledger)

        // Capture after the migration: the sqlite3 shell's update, delete and re-creation, and
        // kmk-sync's own; a conflict joins the ledger.
        let venue = try #require(try r.records("venue").first).id
        r.close()
        _ = try sqlite3Shell(path, "UPDATE venue SET staff_count = 4242 WHERE id = '\(venue)';")
        r = try Replica.open(at: path, now: clock.clock)
        let captured = try r.log(limit: 100_000).map(\.change).filter { $0.id == venue && $0.field == "staff_count" }
        #expect(captured.count == 1 && captured.first?.value == .integer(4242) && captured.first?.origin == r.replicaID)
        try r.delete("venue", id: venue)
        try r.restore("venue", id: venue)
        #expect(try r.record("venue", id: venue)?["staff_count"] == .integer(4242))
        let stranger = "99999999-0000-4000-8000-000000000000"
        let lost = Change(entity: "venue", id: venue, field: "name", value: .text("Förlorarn"),
                          clock: HLC(millis: clock.millis - 86_400_000, counter: 0), origin: stranger, municipality: "0484")
        #expect(try r.apply([lost]).conflicts.count == 1)
        #expect(try self.ledger(r).count == 4)
        #expect(try r.check().filter { !$0.ok && $0.name != "hub checksum" }.map(\.detail) == [])
        r.close()
    }

    /// The fixtures of layouts 5 and 6 (registers as columns of the records' rows): the ledger
    /// entries they hold and the last number issued (`ledger.n`; layout 6 skips numbers).
    static let rowLayouts: [(layout: Int, held: Int, last: Int64)] = [(5, 5, 5), (6, 7, 12)]

    @Test("a layout-5 or layout-6 file opens as layout 7: the ledger keeps every entry and its number, each register becomes its slot of the blob as it was, pending edits are kept and clocked, and new conflicts are numbered after the old",
          arguments: [0, 1])
    func migratesRowLayoutFixture(_ k: Int) throws {
        let (layout, held, last) = Self.rowLayouts[k]
        let dir = try TempDir()
        let (path, fixtures) = try copyFixture(layout: layout, into: dir)
        let pushed = try pushMark(path)
        let pendingIDs = Set(try query(path, "SELECT id FROM venue WHERE seq IS NULL UNION ALL SELECT id FROM kmk_venue_gone WHERE seq IS NULL"))
        let pending = try rowRegisters(path) { "q\($0) = -1" }
        let unpushed = try rowRegisters(path) { Self.unpushed($0, pushed: pushed) }
        let rowsBefore = try Self.layout6Rows(path)
        let ledger = try query(path, "SELECT * FROM kmk_ledger ORDER BY n")
        let listed = try #require(try JSONSerialization.jsonObject(
            with: Data(contentsOf: fixtures.appendingPathComponent("0484-layout\(layout).conflicts.jsonl"))) as? [[String: Any]])
        #expect(pendingIDs.count == 4 && pending.count > 4 && unpushed.count > pending.count && ledger.count == held && listed.count == held,
                "the fixture covers these cases")

        let clock = ManualClock("2026-12-07T08:00:00Z")
        var r = try Replica.open(at: path, now: clock.clock)
        #expect(try r.meta("log_layout") == .integer(7))
        try expectCurrentSchema(path, in: dir)
        #expect(try query(path, "SELECT * FROM kmk_ledger ORDER BY n") == ledger)
        #expect(try r.meta("ledger.n") == .integer(last))
        // The listing is the old build's, in its order.
        let entries = try r.conflicts(since: nil)
        #expect(entries.map { "\($0.entity)|\($0.id)|\($0.field)|\($0.winner.clock)|\($0.loser.clock)|\($0.loser.origin)" }
            == listed.map { e in
                let w = e["winner"] as? [String: Any], l = e["loser"] as? [String: Any]
                return "\(e["entity"]!)|\(e["id"]!)|\(e["field"]!)|\(w?["clock"] ?? "")|\(l?["clock"] ?? "")|"
                    + "\((l?["origin"] as? String).map { $0 == "this replica" ? r.replicaID : $0 } ?? "")"
            })
        try expectKept(r, path, fixtures: fixtures, layout: layout, registers: rowsBefore, pendingIDs: pendingIDs, pending: pending,
                       unpushed: unpushed, openedAt: clock)

        // A new conflict takes the next number, listed last; the same conflict again adds nothing.
        let venue = try #require(try r.records("venue").first).id
        try r.update("venue", id: venue, fields: ["staff_count": .integer(4343)])
        let stranger = "99999999-0000-4000-8000-000000000000"
        let lost = Change(entity: "venue", id: venue, field: "staff_count", value: .integer(5),
                          clock: HLC(millis: clock.millis - 86_400_000, counter: 0), origin: stranger, municipality: "0484")
        #expect(try r.apply([lost]).conflicts.count == 1)
        #expect(try r.apply([lost]).conflicts.isEmpty)
        #expect(try query(path, "SELECT n, pk, field, lose_val FROM kmk_ledger WHERE n > \(last)") == ["\(last + 1)|\(venue)|staff_count|5"])
        #expect(try r.meta("ledger.n") == .integer(last + 1))
        #expect(try r.conflicts(since: nil).last.map { "\($0.id)|\($0.field)|\($0.loser.value)" } == "\(venue)|staff_count|5")
        r.close()
        r = try Replica.open(at: path, now: clock.clock)
        #expect(try r.check().filter { !$0.ok && $0.name != "hub checksum" }.map(\.detail) == [])
        r.close()
    }

    /// What a migrated fixture of `layout` (4 to 6) keeps: every record that was not pending has
    /// the registers it had (`before`, rows of layout 4's columns; the records in `pendingIDs` were
    /// clocked when the file was opened, and the log checks them as `pending`), `check` finds
    /// nothing wrong, the export and the log are the old build's, and the next push sends exactly
    /// the registers in `unpushed`.
    func expectKept(_ r: Replica, _ path: String, fixtures: URL, layout: Int, registers before: [String], pendingIDs: Set<String>,
                    pending: Set<String>, unpushed: Set<String>, openedAt clock: ManualClock) throws {
        let rows = try Self.registerRows(path)
        #expect(rows.count == before.count)
        #expect(Self.settled(rows, except: pendingIDs) == Self.settled(before, except: pendingIDs))
        #expect(try r.check().filter { !$0.ok && $0.name != "hub checksum" }.map(\.detail) == [])
        let export = try String(contentsOf: fixtures.appendingPathComponent("0484-layout\(layout).export-local.json"), encoding: .utf8)
        #expect(try r.export(includeLocal: true).encoded() == export)
        _ = try expectLog(of: r, as: fixtures.appendingPathComponent("0484-layout\(layout).log.jsonl"), pending: pending, openedAt: clock)
        try expectNextPush(of: r, is: unpushed)
    }

    /// `entity|id|field` of every register of a file of layout 5 or 6 that meets `condition`
    /// (given the register number, on the stored register columns of the records' own rows).
    func rowRegisters(_ path: String, _ condition: (Int) -> String) throws -> Set<String> {
        try registers(path, in: { [$0.name, "kmk_\($0.name)_gone"] }, condition)
    }

    /// `entity|id|field` of every register that meets `condition` (given the register number, on
    /// the stored register columns) in each entity's `tables`.
    func registers(_ path: String, in tables: (EntitySpec) -> [String], _ condition: (Int) -> String) throws -> Set<String> {
        var out: Set<String> = []
        for e in Schema.current.entities {
            let registers = [(0, Change.lifecycleField)] + e.syncedFields.map { ($0.number, $0.name) }
            let sql = registers.flatMap { n, name in
                tables(e).map { "SELECT '\(e.name)|' || id || '|\(name)' FROM \($0) WHERE \(condition(n))" }
            }.joined(separator: " UNION ALL ")
            out.formUnion(try query(path, sql))
        }
        return out
    }

    /// The push mark (`kmk_meta.push.seq`) of a file.
    func pushMark(_ path: String) throws -> Int64 {
        try #require(Int64(try query(path, "SELECT value FROM kmk_meta WHERE key = 'push.seq'").first ?? ""))
    }

    /// The condition on register `n`'s compact columns (layouts 3 to 6) for a change not pushed
    /// past `pushed`: pending, or numbered above it.
    static func unpushed(_ n: Int, pushed: Int64) -> String {
        "(q\(n) = -1 OR CASE WHEN h\(n) IS NULL THEN q\(n) ELSE coalesce(q\(n), seq) END > \(pushed))"
    }

    /// The rows (`table|id|…`) whose record is not among `pending`.
    static func settled(_ rows: [String], except pending: Set<String>) -> [String] {
        rows.filter { !pending.contains(String($0.split(separator: "|", omittingEmptySubsequences: false)[1])) }
    }

    /// A copy of `Fixtures/layoutN/0484-layoutN.kmk` in `dir`, checked to be of that layout; returns
    /// its path and the fixture's folder (with the old build's listings).
    func copyFixture(layout: Int, into dir: TempDir) throws -> (path: String, fixtures: URL) {
        let path = dir.path("old.kmk")
        let fixtures = PackageDirectory.url("Fixtures/layout\(layout)")
        try FileManager.default.copyItem(atPath: fixtures.appendingPathComponent("0484-layout\(layout).kmk").path, toPath: path)
        #expect(try query(path, "SELECT value FROM kmk_meta WHERE key = 'log_layout'") == ["\(layout)"])
        return (path, fixtures)
    }

    /// `entity|id|field` of every register of a file of layout 2 to 4 that meets `condition`
    /// (given the register number, on the stored columns of `kmk_<entity>_clock`).
    func clockRowRegisters(_ path: String, _ condition: (Int) -> String) throws -> Set<String> {
        try registers(path, in: { ["kmk_\($0.name)_clock"] }, condition)
    }

    /// Every clock row of a file of layout 3 or 4 (`kmk_<entity>_clock`), as `table|id|cl|seq|t|h0|s0|b0|q0|…`.
    static func layout4ClockRows(_ path: String) throws -> [String] {
        try Schema.current.entities.flatMap { e in
            try sqlite3Shell(path, "SELECT 'kmk_\(e.name)_clock', * FROM kmk_\(e.name)_clock ORDER BY id").stdout
                .split(separator: "\n").map(String.init)
        }
    }

    /// The same rows of a file of layout 7, read from the records' own rows in the entity's table
    /// and in `kmk_<entity>_gone`, their `regs` blob decoded here by SPEC.md §2's rules (not by
    /// kmk-sync's code) into layout 4's columns: a pending register (its bit of `pend` set) as no
    /// clock, site 0, its base (the clock its slot holds, else its slot's base) and -1, and a
    /// record with one as no number, each of its other registers with its own.
    static func registerRows(_ path: String) throws -> [String] {
        try Schema.current.entities.flatMap { e in
            let count = 1 + e.syncedFields.count
            return try sqlite3Shell(path, """
                SELECT id, cl, seq, t, pend, hex(regs) FROM \(e.name) UNION ALL SELECT id, cl, seq, t, pend, hex(regs) FROM kmk_\(e.name)_gone
                ORDER BY id
                """).stdout.split(separator: "\n").map { line in
                let p = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
                let pend = Int64(p[4])!
                var slots = try #require(Self.slots(hex: p[5], count: count), "\(e.name) \(p[0]): regs \(p[5]) cannot be read")
                var seq = p[2]
                if pend != 0 {
                    seq = ""
                    for i in slots.indices {
                        if pend & (1 << Int64(i)) != 0 {
                            slots[i] = [nil, 0, slots[i][0] ?? slots[i][2], -1]
                        } else if slots[i][0] != nil, slots[i][3] == nil {
                            slots[i][3] = Int64(p[2])
                        }
                    }
                }
                let registers = slots.flatMap { $0.map { $0.map(String.init) ?? "" } }
                return (["kmk_\(e.name)_clock", p[0], p[1], seq, p[3]] + registers).joined(separator: "|")
            }
        }
    }

    /// A `regs` blob (as hex) decoded by SPEC.md §2: per register a flag byte (1 h present, 2 h
    /// non-zero and follows, 4 s follows, 8 b follows, 16 q follows) and zigzag varints; the
    /// registers after the blob's end never written. Each register as [h, s, b, q]; nil when malformed.
    static func slots(hex: String, count: Int) -> [[Int64?]]? {
        var bytes: [UInt8] = []
        var chars = Array(hex.utf8)[...]
        while chars.count >= 2 {
            guard let byte = UInt8(String(decoding: chars.prefix(2), as: UTF8.self), radix: 16) else { return nil }
            bytes.append(byte)
            chars = chars.dropFirst(2)
        }
        var k = 0
        func varint() -> Int64? {
            var u: UInt64 = 0, shift: UInt64 = 0
            while k < bytes.count, shift < 64 {
                let b = bytes[k]
                k += 1
                u |= UInt64(b & 0x7F) << shift
                if b < 0x80 { return Int64(bitPattern: u >> 1) ^ -Int64(bitPattern: u & 1) }
                shift += 7
            }
            return nil
        }
        var out: [[Int64?]] = []
        while k < bytes.count {
            let flags = bytes[k]
            k += 1
            var r: [Int64?] = [nil, 0, nil, nil]
            if flags & 1 != 0 { r[0] = 0 }
            if flags & 2 != 0 { guard let v = varint() else { return nil }; r[0] = v }
            if flags & 4 != 0 { guard let v = varint() else { return nil }; r[1] = v }
            if flags & 8 != 0 { guard let v = varint() else { return nil }; r[2] = v }
            if flags & 16 != 0 { guard let v = varint() else { return nil }; r[3] = v }
            out.append(r)
        }
        guard out.count <= count else { return nil }
        return out + Array(repeating: [nil, 0, nil, nil], count: count - out.count)
    }

    /// The same rows of a file of layout 5 or 6, read from the records' own rows in the entity's table and
    /// in `kmk_<entity>_gone` (the columns and their encoding are layout 4's).
    static func layout6Rows(_ path: String) throws -> [String] {
        try Schema.current.entities.flatMap { e in
            let registers = ([0] + e.syncedFields.map(\.number)).flatMap { ["h\($0)", "s\($0)", "b\($0)", "q\($0)"] }
            let columns = (["id", "cl", "seq", "t"] + registers).joined(separator: ", ")
            return try sqlite3Shell(path, """
                SELECT 'kmk_\(e.name)_clock', * FROM (SELECT \(columns) FROM \(e.name) UNION ALL SELECT \(columns) FROM kmk_\(e.name)_gone)
                ORDER BY id
                """).stdout.split(separator: "\n").map(String.init)
        }
    }

    /// A migrated file has the tables, indexes and triggers of a new one (their SQL may differ in
    /// layout: `ALTER TABLE ... ADD COLUMN` appends to a table's text), and no clock table. The
    /// `id` column's default is left out: a file keeps the one it was made with (version-4 ids
    /// before version-7 ones, SPEC.md §1 "Ids"); both make valid ids.
    func expectCurrentSchema(_ path: String, in dir: TempDir) throws {
        let fresh = dir.path("fresh.kmk")
        try Replica.create(at: fresh, municipality: Municipality.all.first { $0.code == "0484" }!).close()
        let objects = "SELECT type, name, tbl_name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name"
        #expect(try query(path, objects) == query(fresh, objects))
        let triggers = "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name"
        #expect(try query(path, triggers) == query(fresh, triggers))
        let ledger = "SELECT sql FROM sqlite_master WHERE name = 'kmk_ledger'"
        #expect(try query(path, ledger) == query(fresh, ledger))
        for e in Schema.current.entities {
            let columns = "SELECT name, type, \"notnull\", iif(name = 'id', NULL, dflt_value), pk FROM pragma_table_info('\(e.name)')"
            #expect(try query(path, columns) == query(fresh, columns), "\(e.name)")
            let gone = "SELECT name, type, \"notnull\", iif(name = 'id', NULL, dflt_value), pk FROM pragma_table_info('kmk_\(e.name)_gone')"
            #expect(try query(path, gone) == query(fresh, gone), "kmk_\(e.name)_gone")
        }
    }
}
