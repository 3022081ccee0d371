import KMKModel
import KMKSync

/// One finding of ``Replica/check()``.
public struct CheckFinding: Hashable, Sendable {
    /// The check's name, e.g. `integrity`.
    public var name: String
    /// Whether it passed.
    public var ok: Bool
    /// What was checked and found, in words.
    public var detail: String

    public init(name: String, ok: Bool, detail: String) {
        self.name = name
        self.ok = ok
        self.detail = detail
    }
}

extension Replica {
    /// Verifies the file and its change log (SPEC.md §10, `kmk-sync check`): SQLite's
    /// integrity check, that every register has a clock and a unique sequence number within the
    /// counters, that the tables hold exactly the live records and the winning values of the
    /// change log, and that the push and pull cursors are consistent. Reads only.
    public func check() throws -> [CheckFinding] {
        var findings: [CheckFinding] = []
        func add(_ name: String, _ problems: [String], ok: String) {
            findings.append(CheckFinding(name: name, ok: problems.isEmpty,
                                         detail: problems.isEmpty ? ok : problems.prefix(5).joined(separator: "; ")
                                             + (problems.count > 5 ? "; and \(problems.count - 5) more" : "")))
        }
        let integrity = try db.prepare("PRAGMA integrity_check").rows { $0.text(0) ?? "" }
        add("integrity", integrity == ["ok"] ? [] : integrity.map { "SQLite: \($0)" }, ok: "SQLite's integrity check passed")

        var log: [String] = []
        let unstamped = try db.prepare("SELECT count(*) FROM kmk_clock WHERE seq IS NULL OR hlc IS NULL").first { $0.int64(0) } ?? 0
        if unstamped > 0 { log.append("\(unstamped) changes have no clock or sequence number") }
        let duplicates = try db.prepare("SELECT count(*) FROM (SELECT seq FROM kmk_clock WHERE seq IS NOT NULL GROUP BY seq HAVING count(*) > 1)")
            .first { $0.int64(0) } ?? 0
        if duplicates > 0 { log.append("\(duplicates) sequence numbers are used twice") }
        let (maxSeq, maxHLC) = try db.prepare("SELECT coalesce(max(seq), 0), coalesce(max(hlc), 0) FROM kmk_clock")
            .first { ($0.int64(0), $0.int64(1)) } ?? (0, 0)
        let metaSeq = try meta("seq").integer ?? 0, metaHLC = try meta("hlc").integer ?? 0
        if maxSeq > metaSeq { log.append("the change log reaches sequence \(maxSeq) but the counter says \(metaSeq)") }
        if maxHLC > metaHLC { log.append("the change log holds clock \(HLC(int64: maxHLC)) but the replica's clock is \(HLC(int64: metaHLC))") }
        let unknownSites = try db.prepare("SELECT count(*) FROM kmk_clock WHERE site NOT IN (SELECT site FROM kmk_site)").first { $0.int64(0) } ?? 0
        if unknownSites > 0 { log.append("\(unknownSites) changes name an origin that is not in kmk_site") }
        add("change log", log, ok: "\(try changeCount(after: 0)) changes, sequence 1…\(metaSeq), every one with a clock and an origin")

        var capture: [String] = []
        let triggers = Set(try db.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'").rows { $0.text(0) ?? "" })
        for e in schema.entities {
            let missing = ["insert", "update", "delete", "id"].map { "kmk_\(e.name)_\($0)" }.filter { !triggers.contains($0) }
            if !missing.isEmpty { capture.append("\(e.name) lacks its capture triggers \(missing.joined(separator: ", ")), so edits there are not synced") }
        }
        add("capture", capture, ok: "every table has its change-capture triggers")

        var tables: [String] = []
        for e in schema.entities {
            let n = Int64(e.number)
            let extra = try db.prepare("""
                SELECT count(*) FROM \(e.name) WHERE id NOT IN (SELECT pk FROM kmk_clock WHERE tbl = \(n) AND col = 0 AND val % 2 = 1)
                """).first { $0.int64(0) } ?? 0
            let missing = try db.prepare("""
                SELECT count(*) FROM kmk_clock WHERE tbl = \(n) AND col = 0 AND val % 2 = 1 AND pk NOT IN (SELECT id FROM \(e.name))
                """).first { $0.int64(0) } ?? 0
            if extra > 0 { tables.append("\(extra) \(e.name) rows have no live record in the change log") }
            if missing > 0 { tables.append("\(missing) live \(e.name) records of the change log are missing from the table") }
            for f in e.syncedFields {
                let differ = try db.prepare("""
                    SELECT count(*) FROM \(e.name) t JOIN kmk_clock c ON c.tbl = \(n) AND c.pk = t.id AND c.col = \(f.number)
                    WHERE t.\(f.name) IS NOT c.val
                    """).first { $0.int64(0) } ?? 0
                if differ > 0 { tables.append("\(differ) \(e.name) rows differ from the change log in \(f.name)") }
            }
        }
        add("records", tables, ok: "the tables hold exactly the live records and winning values of the change log")

        var cursors: [String] = []
        let state = try remoteState()
        if state.pushedSeq > metaSeq { cursors.append("the push cursor (\(state.pushedSeq)) is ahead of the change log (\(metaSeq))") }
        if let inflight = state.inflight {
            if inflight.seq < state.pushedSeq || inflight.seq > metaSeq {
                cursors.append("the batch in flight ends at \(inflight.seq), outside \(state.pushedSeq)…\(metaSeq)")
            }
            if inflight.batch != state.lastBatch + 1 {
                cursors.append("the batch in flight is number \(inflight.batch) but the last acknowledged is \(state.lastBatch)")
            }
        }
        if let cursor = state.cursor, HubCursor(text: cursor) == nil { cursors.append("the pull cursor '\(cursor)' cannot be read") }
        if let cursor = state.cursor.flatMap(HubCursor.init(text:)), let hub = state.hubID, cursor.hub != hub {
            cursors.append("the pull cursor is from hub \(cursor.hub) but the replica syncs with hub \(hub)")
        }
        add("cursors", cursors, ok: state.url == nil ? "no hub set"
            : "pushed up to \(state.pushedSeq) of \(metaSeq) (batch \(state.lastBatch))" + (state.cursor == nil ? ", never pulled" : ", pull cursor valid"))
        return findings
    }
}
