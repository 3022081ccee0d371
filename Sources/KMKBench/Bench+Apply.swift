import CSQLite
import Foundation
import KMKModel
import KMKReplica
import KMKSync

extension Bench {
    /// P2: N remote row creations merged into an empty replica, then N conflicting updates of 2
    /// fields merged into the full one, against `sqlite3changeset_apply` of the same rows (the
    /// session extension) into plain tables in the same states.
    func applyBench() throws -> [BenchLine] {
        let n = sizes.applyRows
        say("P2 apply: \(n) rows, \(sizes.repetitions) run(s) per side")
        let rows = VenueRows(count: n, seed: 2)
        let local = rows.updatingTwo(round: 7)
        let remote = rows.updatingTwo(round: 9)
        var best = (create: Double.infinity, update: Double.infinity, plainCreate: Double.infinity, plainUpdate: Double.infinity)
        var checks: (String, String) = ("", "")
        for _ in 0..<sizes.repetitions {
            // Ours: the source replica makes the rows, the target merges them; the target then
            // edits the same two fields locally, the source later (so its writes win), and the
            // target merges the source's updates: every one a conflict, recorded in the ledger.
            let source = try newReplica("p2-source")
            try importChunked(source, rows.records())
            let creations = try source.changes(after: 0, limit: Int.max).map(\.change).filter { $0.entity == "venue" }
            let target = try newReplica("p2-target")
            let (created, tCreate) = try time { try target.apply(creations) }
            let targetAfterCreate = try venueHash(target.path)
            try importChunked(target, local.records(only: VenueRows.updatedFields))
            let seqBefore = try source.maxSeq()
            Thread.sleep(forTimeInterval: 0.005)
            try importChunked(source, remote.records(only: VenueRows.updatedFields))
            // The records the updates touched, by sequence number; of them the writes made after
            // the creations (a record's registers not yet pushed share its newest number, SPEC.md §4).
            let createdAt = creations.map(\.clock).max()!
            let updates = try source.changes(after: seqBefore, limit: Int.max).map(\.change).filter { $0.clock > createdAt }
            let (merged, tUpdate) = try time { try target.apply(updates) }
            let targetAfterUpdate = try venueHash(target.path)
            let sourceAfterUpdate = try venueHash(source.path)
            let targetPath = target.path
            source.close()
            target.close()
            guard created.applied == n * 9, updates.count == 2 * n, merged.applied == 2 * n, merged.conflicts.count == 2 * n else {
                throw BenchError("P2: \(created.applied) of \(n * 9) creations and \(merged.applied) of \(2 * n) updates won, "
                    + "\(merged.conflicts.count) conflicts recorded (expected all)")
            }
            // Baseline: changesets recorded by the session extension on a plain copy.
            let source0 = try newPlain("p2-plain-source")
            let insert = try source0.prepare("INSERT INTO venue (id, " + VenueRows.fields.joined(separator: ", ") + ") VALUES ("
                + Array(repeating: "?", count: VenueRows.fields.count + 1).joined(separator: ", ") + ")")
            let createSet = try Changeset.record(source0) {
                try source0.execute("BEGIN")
                for i in 0..<n { try insert.run([.text(rows.ids[i])] + rows.values[i]) }
                try source0.execute("COMMIT")
            }
            let update = try source0.prepare("UPDATE venue SET address = ?, staff_count = ? WHERE id = ?")
            let updateSet = try Changeset.record(source0) {
                try source0.execute("BEGIN")
                for i in 0..<n { try update.run([remote.values[i][1], remote.values[i][6], .text(rows.ids[i])]) }
                try source0.execute("COMMIT")
            }
            let plain = try newPlain("p2-plain-target")
            let (_, tPlainCreate) = try time { try createSet.apply(to: plain) }
            let plainAfterCreate = try plain.contentHash(table: "venue", columns: VenueRows.hashColumns)
            let localUpdate = try plain.prepare("UPDATE venue SET address = ?, staff_count = ? WHERE id = ?")
            try plain.execute("BEGIN")
            for i in 0..<n { try localUpdate.run([local.values[i][1], local.values[i][6], .text(rows.ids[i])]) }
            try plain.execute("COMMIT")
            let (_, tPlainUpdate) = try time { try updateSet.apply(to: plain) }
            let plainAfterUpdate = try plain.contentHash(table: "venue", columns: VenueRows.hashColumns)
            checks.0 = try requireSame("P2 creations", targetAfterCreate, plainAfterCreate, rows: n)
            checks.1 = try requireSame("P2 updates", targetAfterUpdate, plainAfterUpdate, rows: n)
                + " (= the source's); \(merged.conflicts.count) conflicts in the ledger"
            guard sourceAfterUpdate == targetAfterUpdate else { throw BenchError("P2: the target differs from the source after the merge") }
            best = (min(best.create, tCreate), min(best.update, tUpdate), min(best.plainCreate, tPlainCreate),
                    min(best.plainUpdate, tPlainUpdate))
        }
        func line(_ what: String, fieldsPerRow: Int, _ ours: Double, _ plain: Double, _ check: String) -> BenchLine {
            let ratio = plain / ours
            let f = Double(n * fieldsPerRow)
            return BenchLine(id: "P2", what: what,
                             ours: Figure.rate(Double(n) / ours, "rows") + ", " + Figure.rate(f / ours, "fields"),
                             baseline: Figure.rate(Double(n) / plain, "rows") + ", " + Figure.rate(f / plain, "fields"),
                             ratio: ratio, ratioMeaning: "of the session extension's rows/s", target: "≥ 0.5x", met: ratio >= 0.5,
                             check: check, figures: ["rows": Double(n), "fields": f, "ours_s": ours, "baseline_s": plain])
        }
        return [
            line("apply: \(Figure.grouped(n)) remote row creations into an empty replica", fieldsPerRow: 8, best.create,
                 best.plainCreate, checks.0),
            line("apply: \(Figure.grouped(n)) conflicting 2-field updates into a full replica", fieldsPerRow: 2, best.update,
                 best.plainUpdate, checks.1),
        ]
    }
}

/// A changeset recorded by SQLite's session extension.
final class Changeset {
    let size: Int32
    let bytes: UnsafeMutableRawPointer

    private init(size: Int32, bytes: UnsafeMutableRawPointer) {
        self.size = size
        self.bytes = bytes
    }

    deinit { sqlite3_free(bytes) }

    /// Records the changes `body` makes to `venue` in `file`.
    static func record(_ file: SQLiteFile, _ body: () throws -> Void) throws -> Changeset {
        var session: OpaquePointer?
        guard sqlite3session_create(file.handle, "main", &session) == SQLITE_OK, let session else {
            throw BenchError("cannot create a session on \(file.path): \(file.message)")
        }
        defer { sqlite3session_delete(session) }
        guard sqlite3session_attach(session, "venue") == SQLITE_OK else { throw BenchError("cannot attach the session") }
        try body()
        var size: Int32 = 0
        var bytes: UnsafeMutableRawPointer?
        guard sqlite3session_changeset(session, &size, &bytes) == SQLITE_OK, let bytes else {
            throw BenchError("the session made no changeset: \(file.message)")
        }
        return Changeset(size: size, bytes: bytes)
    }

    /// `sqlite3changeset_apply`; rows that conflict are replaced by the changeset's.
    func apply(to file: SQLiteFile) throws {
        let rc = kmk_changeset_apply_replace(file.handle, size, bytes)
        guard rc == SQLITE_OK else { throw BenchError("sqlite3changeset_apply failed (\(rc)): \(file.message)") }
    }
}
