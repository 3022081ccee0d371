import CSQLite
import KMKModel
import KMKSync
import KMKReplica

extension Bench {
    /// P1: N venue rows inserted (then 2 fields of each updated) through the replica API, with
    /// change capture, against the same rows written to a plain table with one reused prepared
    /// statement in one transaction. A third, reported line runs the baseline's UPDATE on a copy
    /// of the replica taken before our updates, triggers off: what the same write costs on the
    /// replica's own rows (which carry the change log's register columns) with no capture at all.
    func capture() throws -> [BenchLine] {
        let n = sizes.captureRows
        say("P1 capture: \(n) rows, \(sizes.repetitions) run(s) per side")
        let rows = VenueRows(count: n, seed: 1)
        let updated = rows.updatingTwo(round: 1)
        let inserts = rows.records()
        let updates = updated.records(only: VenueRows.updatedFields)
        var best = (insert: Double.infinity, update: Double.infinity, plainInsert: Double.infinity, plainUpdate: Double.infinity)
        var bestFloor = Double.infinity
        var checks: (String, String, String) = ("", "", "")
        for _ in 0..<sizes.repetitions {
            // Ours.
            let replica = try newReplica("p1")
            let (_, tInsert) = try time { try replica.importRecords(inserts, mode: .merge) }
            let afterInsert = try venueHash(replica.path)
            let capturedInsert = try capturedCount(replica)
            let floorPath = newPath("p1-floor.kmk")
            try replica.backup(to: floorPath)
            let (_, tUpdate) = try time { try replica.importRecords(updates, mode: .merge) }
            let afterUpdate = try venueHash(replica.path)
            let capturedUpdate = try capturedCount(replica)
            let path = replica.path
            replica.close()
            // Each import is one transaction, so one clock: the inserts' registers all carry it, and
            // after the updates exactly the two updated fields of each row carry the newer one.
            guard capturedInsert.changes == n * (VenueRows.fields.count + 1), capturedInsert.pending == 0,
                  capturedInsert.newest == capturedInsert.changes,
                  capturedUpdate.changes == capturedInsert.changes, capturedUpdate.pending == 0,
                  capturedUpdate.newest == 2 * n, capturedUpdate.maxSeq == capturedInsert.maxSeq + Int64(n) else {
                throw BenchError("P1: change capture wrote \(capturedInsert) after the inserts and \(capturedUpdate) after the "
                    + "updates; expected \(n * (VenueRows.fields.count + 1)) changes, none pending, \(2 * n) with the "
                    + "updates' clock and \(n) new sequence numbers")
            }
            // Baseline: the same table, no triggers, one prepared statement, one transaction.
            let plain = try newPlain("p1-plain")
            let insert = try plain.prepare("INSERT INTO venue (id, " + VenueRows.fields.joined(separator: ", ") + ") VALUES ("
                + Array(repeating: "?", count: VenueRows.fields.count + 1).joined(separator: ", ") + ")")
            let (_, tPlainInsert) = try time {
                try plain.execute("BEGIN")
                for i in 0..<n { try insert.run([.text(rows.ids[i])] + rows.values[i]) }
                try plain.execute("COMMIT")
            }
            let plainAfterInsert = try plain.contentHash(table: "venue", columns: VenueRows.hashColumns)
            let update = try plain.prepare("UPDATE venue SET address = ?, staff_count = ? WHERE id = ?")
            let (_, tPlainUpdate) = try time {
                try plain.execute("BEGIN")
                for i in 0..<n { try update.run([updated.values[i][1], updated.values[i][6], .text(rows.ids[i])]) }
                try plain.execute("COMMIT")
            }
            let plainAfterUpdate = try plain.contentHash(table: "venue", columns: VenueRows.hashColumns)
            // The floor: the baseline's UPDATE on the replica's rows as they were before our
            // updates, with the capture triggers off (a page-for-page copy, sqlite3_backup).
            let floor = try SQLiteFile(path: floorPath)
            _ = kmk_sqlite_enable_triggers(floor.handle, 0)
            let floorUpdate = try floor.prepare("UPDATE venue SET address = ?, staff_count = ? WHERE id = ?")
            let (_, tFloor) = try time {
                try floor.execute("BEGIN")
                for i in 0..<n { try floorUpdate.run([updated.values[i][1], updated.values[i][6], .text(rows.ids[i])]) }
                try floor.execute("COMMIT")
            }
            checks.2 = try requireSame("P1 update floor", try floor.contentHash(table: "venue", columns: VenueRows.hashColumns),
                                       plainAfterUpdate, rows: n) + "; capture triggers off"
            floor.close()
            bestFloor = min(bestFloor, tFloor)
            checks.0 = try requireSame("P1 insert", afterInsert, plainAfterInsert, rows: n)
                + "; \(capturedInsert.changes) changes captured"
            checks.1 = try requireSame("P1 update", afterUpdate, plainAfterUpdate, rows: n) + "; \(2 * n) changes captured"
            best = (min(best.insert, tInsert), min(best.update, tUpdate), min(best.plainInsert, tPlainInsert),
                    min(best.plainUpdate, tPlainUpdate))
        }
        func line(_ what: String, _ ours: Double, _ plain: Double, _ check: String) -> BenchLine {
            let ratio = ours / plain
            return BenchLine(id: "P1", what: what, ours: Figure.seconds(ours) + " (" + Figure.rate(Double(n) / ours, "rows") + ")",
                             baseline: Figure.seconds(plain) + " (" + Figure.rate(Double(n) / plain, "rows") + ")",
                             ratio: ratio, ratioMeaning: "of plain SQLite's time", target: "≤ 2.0x (aim 1.5x)", met: ratio <= 2.0,
                             check: check, figures: ["rows": Double(n), "ours_s": ours, "baseline_s": plain])
        }
        var floor = line("floor: the same 2-field UPDATE of \(Figure.grouped(n)) rows on the replica's own table, capture off",
                         bestFloor, best.plainUpdate, checks.2)
        floor.target = "(reported)"
        floor.met = nil
        return [
            line("capture: insert \(Figure.grouped(n)) venue rows, 8 fields", best.insert, best.plainInsert, checks.0),
            line("capture: update 2 fields of \(Figure.grouped(n)) rows", best.update, best.plainUpdate, checks.1),
            floor,
        ]
    }

    /// Venue changes captured in a replica's log (SPEC.md §4), read through the replica: every
    /// clocked change, the records with a pending register (read from the file), the changes
    /// carrying the newest clock, and the last sequence number issued.
    func capturedCount(_ replica: Replica) throws -> (changes: Int, pending: Int, newest: Int, maxSeq: Int64) {
        let changes = try replica.changes(after: 0, limit: Int.max).map(\.change).filter { $0.entity == "venue" }
        let newest = changes.map(\.clock).max()
        let f = try SQLiteFile(path: replica.path)
        return (changes.count, Int(try f.scalar("SELECT (SELECT count(*) FROM venue WHERE pend > 0) + (SELECT count(*) FROM kmk_venue_gone WHERE pend > 0)")),
                changes.filter { $0.clock == newest }.count, try replica.maxSeq())
    }
}
