import Foundation
import KMKModel
import KMKSync

extension Replica {
    /// Notices a file that is not the file it was (SPEC.md §2, "Copies and restores"), and gives
    /// it a replica id of its own.
    ///
    /// A replica keeps its file's inode number in `kmk_meta.file.inode`. A copy (`cp`, a copy on a
    /// USB stick, a backup put back in place) is a new inode with the same replica id and batch
    /// numbers as its original, which may have gone on meanwhile: two files writing as one replica
    /// would give different writes the same origin and clock, and the hub could not tell their
    /// batches apart. So a file whose inode differs goes on as a new replica: a new random id,
    /// every register it holds kept with its origin (the old id becomes a site like any other), and
    /// its push restarted from the beginning, so that whatever the original had not pushed is sent
    /// now (the hub ignores what it already holds). Returns the old id when it did so.
    @discardableResult
    func checkIdentity() throws -> String? {
        guard path != ":memory:" else { return nil }
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        let inode = Int64(bitPattern: UInt64(info.st_ino))
        guard inode != 0 else { return nil }
        let stored = try meta("file.inode").integer
        if stored == inode { return nil }
        return try db.transaction {
            // Read again under the write lock: another process may have done it meanwhile, and
            // then this one takes the id it gave the file.
            let known = try meta("file.inode").integer
            if known == inode {
                replicaID = try meta("replica_id").text ?? replicaID
                return nil
            }
            guard known != nil else {
                try setMeta("file.inode", .integer(inode))
                return nil
            }
            return try reidentify(inode: inode)
        }
    }

    /// Gives this file a new replica id (inside the caller's transaction): the old id becomes site
    /// `n`, every register and ledger entry of site 0 moves to it, and the push starts again.
    private func reidentify(inode: Int64) throws -> String {
        let old = replicaID
        let new = RecordID.makeRandom()
        let site = (try db.cached("SELECT coalesce(max(site), 0) + 1 FROM kmk_site").first { $0.int64(0) }) ?? 1
        try db.cached("UPDATE kmk_site SET replica = ? WHERE site = 0").run([.text(new)])
        try db.cached("INSERT INTO kmk_site (site, replica) VALUES (?, ?)").run([.integer(site), .text(old)])
        for t in logTables {
            for table in t.tables {
                var rows: [(rowid: Int64, slots: [StoredRegister])] = []
                try db.prepare("SELECT rowid, regs, id FROM \(table) WHERE regs IS NOT NULL").each(binding: { _ in }) { s in
                    guard let slots = s.registerSlots(at: 1, count: t.registers.count) else {
                        throw ReplicaError.damagedRegisters(path, t.entity.name, s.text(2) ?? "?")
                    }
                    rows.append((s.int64(0), slots))
                }
                let update = try db.prepare("UPDATE \(table) SET regs = ?1 WHERE rowid = ?2")
                var blob: [UInt8] = []
                for var r in rows {
                    var changed = false
                    for i in r.slots.indices where r.slots[i].h != nil && r.slots[i].s == 0 {
                        r.slots[i].s = site
                        changed = true
                    }
                    guard changed else { continue }
                    RegisterBlob.encode(r.slots, into: &blob)
                    try update.run { s in
                        s.bind(blob: blob, at: 1)
                        s.bind(r.rowid, at: 2)
                    }
                }
            }
        }
        try db.execute("""
            UPDATE kmk_ledger SET win_site = CASE win_site WHEN 0 THEN \(site) ELSE win_site END,
                lose_site = CASE lose_site WHEN 0 THEN \(site) ELSE lose_site END
            WHERE win_site = 0 OR lose_site = 0
            """)
        try setMeta("replica_id", .text(new))
        try setMeta("file.inode", .integer(inode))
        try setMeta("identity.previous", .text(old))
        // Every register goes to the hub again, in batches numbered from 1 for the new id.
        try restartPushInTransaction(nextBatch: 1)
        replicaID = new
        siteNumbers = [:]
        siteIDs = [:]
        try reloadCounters()
        return old
    }
}
