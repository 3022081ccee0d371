import KMKModel
import KMKReplica

extension Bench {
    /// P5: the replica file's bytes against a plain SQLite file holding the same live rows,
    /// after every field was updated once, and after ten times.
    func size() throws -> [BenchLine] {
        let n = sizes.sizeRows
        say("P5 size: \(n) rows, every field updated 1 and 10 times")
        var rows = VenueRows(count: n, seed: 5)
        let replica = try newReplica("p5")
        try importChunked(replica, rows.records())
        let plain = try newPlain("p5-plain")
        let insert = try plain.prepare("INSERT INTO venue (id, " + VenueRows.fields.joined(separator: ", ") + ") VALUES ("
            + Array(repeating: "?", count: VenueRows.fields.count + 1).joined(separator: ", ") + ")")
        try plain.execute("BEGIN")
        for i in 0..<n { try insert.run([.text(rows.ids[i])] + rows.values[i]) }
        try plain.execute("COMMIT")
        let update = try plain.prepare("UPDATE venue SET " + VenueRows.fields.map { "\($0) = ?" }.joined(separator: ", ")
            + " WHERE id = ?")
        var lines: [BenchLine] = []
        let ours = try SQLiteFile(path: replica.path)
        for round in 1...10 {
            rows = rows.updatingAll(round: round, seed: 50 + UInt64(round))
            try importChunked(replica, rows.records())
            try plain.execute("BEGIN")
            for i in 0..<n { try update.run(rows.values[i] + [.text(rows.ids[i])]) }
            try plain.execute("COMMIT")
            guard round == 1 || round == 10 else { continue }
            let check = try requireSame("P5", try venueHash(replica.path),
                                        try plain.contentHash(table: "venue", columns: VenueRows.hashColumns), rows: n)
            let ourBytes = try ours.fileBytes()
            let plainBytes = try plain.fileBytes()
            let ratio = Double(ourBytes) / Double(plainBytes)
            // The change log is columns of the rows and the `seq` and `pend` indexes (layout 7), so its bytes
            // are what the file holds beyond the plain one.
            let logBytes = ourBytes - plainBytes
            lines.append(BenchLine(
                id: "P5", what: "size: replica file vs plain SQLite file, \(Figure.grouped(n)) rows, after \(round) update"
                    + (round == 1 ? "" : "s") + " per field",
                ours: Figure.bytes(ourBytes) + " (log and schema " + Figure.bytes(logBytes) + ")",
                baseline: Figure.bytes(plainBytes), ratio: ratio, ratioMeaning: "of the plain file's bytes",
                target: round == 1 ? "≤ 2x" : "(reported)", met: round == 1 ? ratio <= 2 : nil,
                check: check + " (files checkpointed)",
                figures: ["rows": Double(n), "updates_per_field": Double(round), "ours_bytes": Double(ourBytes),
                          "baseline_bytes": Double(plainBytes), "log_bytes": Double(logBytes)]))
        }
        replica.close()
        return lines
    }
}
