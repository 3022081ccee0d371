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
    /// change log, that the push and pull cursors are consistent, and that the merge ledger's
    /// entries are numbered within its counter. Reads only.
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
        var unstamped: Int64 = 0, maxSeq: Int64 = 0, maxHLC: Int64 = 0, unknownSites: Int64 = 0, aboveRecord: Int64 = 0
        var noReference: Int64 = 0, negative: Int64 = 0, damaged: Int64 = 0
        var seqs: [String] = []
        for t in logTables {
            // A row whose registers cannot be read is reported, and left out of the checks below.
            damaged += try db.prepare("SELECT count(*) FROM (\(t.bothTables("regs"))) WHERE NOT kmk_blob_ok(regs)").first { $0.int64(0) } ?? 0
            let any = { (term: (Int) -> String) in t.registers.map(term).joined(separator: " OR ") }
            let sql = """
                SELECT
                  count(*) FILTER (WHERE seq IS NULL OR \(any { "q\($0) = -1 OR (q\($0) IS NOT NULL AND h\($0) IS NULL)" })),
                  coalesce(max(seq), 0),
                  coalesce(max(max(\(t.registers.map { "coalesce(h\($0), 0)" }.joined(separator: ", ")), 0)), 0),
                  count(*) FILTER (WHERE \(any { "(q\($0) IS NOT NULL AND s\($0) NOT IN (SELECT site FROM kmk_site))" })),
                  count(*) FILTER (WHERE \(any { "q\($0) > seq" })),
                  (SELECT count(*) FROM (\(t.bothTables("t, regs"))) WHERE t IS NULL AND regs IS NOT NULL),
                  count(*) FILTER (WHERE \(any { "h\($0) < 0 OR b\($0) < 0" }))
                FROM \(t.decoded(where: "kmk_blob_ok(regs)"))
                """
            try db.prepare(sql).each(binding: { _ in }) { row in
                unstamped += row.int64(0)
                maxSeq = max(maxSeq, row.int64(1))
                maxHLC = max(maxHLC, row.int64(2))
                unknownSites += row.int64(3)
                aboveRecord += row.int64(4)
                noReference += row.int64(5)
                negative += row.int64(6)
            }
            seqs += t.tables.map { "SELECT seq FROM \($0) WHERE seq IS NOT NULL" }
        }
        if damaged > 0 { log.append("\(damaged) records have registers (regs) that cannot be read; restore the file from a backup") }
        if unstamped > 0 { log.append("\(unstamped) records have changes with no clock or sequence number") }
        if negative > 0 { log.append("\(negative) records have a clock or base below zero, which no clock can be") }
        if noReference > 0 { log.append("\(noReference) clocked records have no reference clock (t), so their clocks cannot be read") }
        let duplicates = try db.prepare("SELECT count(*) FROM (SELECT seq FROM (\(seqs.joined(separator: " UNION ALL "))) GROUP BY seq HAVING count(*) > 1)")
            .first { $0.int64(0) } ?? 0
        if duplicates > 0 { log.append("\(duplicates) sequence numbers are used by two records") }
        if aboveRecord > 0 { log.append("\(aboveRecord) records have a change numbered above the record's own sequence number") }
        let metaSeq = try meta("seq").integer ?? 0, metaHLC = try meta("hlc").integer ?? 0
        if maxSeq > metaSeq { log.append("the change log reaches sequence \(maxSeq) but the counter says \(metaSeq)") }
        if maxHLC > metaHLC { log.append("the change log holds clock \(HLC(int64: maxHLC)) but the replica's clock is \(HLC(int64: metaHLC))") }
        if unknownSites > 0 { log.append("\(unknownSites) records have changes naming an origin that is not in kmk_site") }
        add("change log", log, ok: "\(try changeCount(after: 0)) changes, sequence 1…\(metaSeq), every one with a clock and an origin")

        var capture: [String] = []
        let triggers = Set(try db.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'").rows { $0.text(0) ?? "" })
        for e in schema.entities {
            let missing = ["insert", "update", "delete", "id"].map { "kmk_\(e.name)_\($0)" }.filter { !triggers.contains($0) }
            if !missing.isEmpty { capture.append("\(e.name) lacks its capture triggers \(missing.joined(separator: ", ")), so edits there are not synced") }
        }
        add("capture", capture, ok: "every table has its change-capture triggers")

        var tables: [String] = []
        for t in logTables {
            let e = t.entity
            let alive = "(cl > 0 AND cl % 2 = 1)"
            let extra = try db.prepare("SELECT count(*) FROM \(t.live) WHERE NOT \(alive)").first { $0.int64(0) } ?? 0
            let missing = try db.prepare("SELECT count(*) FROM \(t.gone) WHERE \(alive)").first { $0.int64(0) } ?? 0
            let kept = try db.prepare("""
                SELECT count(*) FROM \(t.gone) WHERE id IN (SELECT id FROM \(e.name))
                """).first { $0.int64(0) } ?? 0
            if extra > 0 { tables.append("\(extra) \(e.name) rows have no live record in the change log") }
            if missing > 0 { tables.append("\(missing) live \(e.name) records of the change log are kept as deleted, not in the table") }
            if kept > 0 { tables.append("\(kept) live \(e.name) records also have values kept as deleted") }
            for (i, f) in t.fields.enumerated() {
                let uncaptured = try db.prepare("""
                    SELECT count(*) FROM \(t.live) WHERE \(f.name) IS NOT NULL AND pend & \(LogTable.bit(i + 1)) = 0 AND kmk_blob_ok(regs)
                      AND kmk_reg(regs, \(i + 1), 0) IS NULL
                    """).first { $0.int64(0) } ?? 0
                if uncaptured > 0 { tables.append("\(uncaptured) \(e.name) rows hold a value in \(f.name) that the change log never captured") }
            }
        }
        add("records", tables, ok: "the tables hold exactly the live records of the change log, and every value in them was captured")

        var cursors: [String] = []
        let state = try remoteState()
        if state.pushedSeq > metaSeq { cursors.append("the push cursor (\(state.pushedSeq)) is ahead of the change log (\(metaSeq))") }
        var split: Int64 = 0
        for t in logTables {
            let term = t.registers.map { "(q\($0) > ?1 AND q\($0) <> seq)" }.joined(separator: " OR ")
            split += try db.prepare("SELECT count(*) FROM \(t.decoded(where: "kmk_blob_ok(regs)")) WHERE seq > ?1 AND (\(term))").first([.integer(state.pushedSeq)]) {
                $0.int64(0)
            } ?? 0
        }
        if split > 0 {
            cursors.append("\(split) records have unpushed changes under an older sequence number than the record's, so a push could skip them")
        }
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

        var ledger: [String] = []
        let entries = try db.prepare("""
            SELECT count(*), coalesce(max(n), 0), count(DISTINCT n),
              count(*) FILTER (WHERE win_site NOT IN (SELECT site FROM kmk_site) OR lose_site NOT IN (SELECT site FROM kmk_site))
            FROM kmk_ledger
            """).first { ($0.int64(0), $0.int64(1), $0.int64(2), $0.int64(3)) } ?? (0, 0, 0, 0)
        let metaN = try meta("ledger.n").integer ?? 0
        if entries.1 > metaN {
            ledger.append("the ledger reaches entry \(entries.1) but kmk_meta.ledger.n says \(metaN), so new entries would repeat numbers")
        }
        if entries.2 < entries.0 { ledger.append("\(entries.0 - entries.2) ledger entries share their number with another") }
        if entries.3 > 0 { ledger.append("\(entries.3) ledger entries name an origin that is not in kmk_site") }
        add("ledger", ledger, ok: "\(entries.0) entries, each numbered once, every origin known")
        let setAside = try quarantineCount()
        let first = try quarantine(limit: 3).map { "\($0.change.entity ?? "?") \($0.change.id ?? "?") \($0.change.field ?? "?"): \($0.change.reason)" }
        findings.append(CheckFinding(
            name: "quarantine", ok: setAside == 0,
            detail: setAside == 0 ? "no received change is set aside"
                : "\(setAside) received change\(setAside == 1 ? " is" : "s are") set aside, unapplied (\(first.joined(separator: "; ")))"))
        return findings
    }
}
