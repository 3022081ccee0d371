import KMKModel

/// The statements with which kmk-sync's own imports capture changes themselves, with the
/// connection's triggers off (SPEC.md §4, "Direct capture"). Each writes the row and its registers
/// as the capture trigger and the stamp that follows it would (``RegisterRules``), with the
/// stamp as parameters instead of `kmk_stamp`: ?1 the clock, ?2 the record's new sequence
/// number, ?3 the push mark (or, for ``directUpdate(given:)``, the new `regs`), ?4 the id (insert,
/// clean update) or rowid (update), and the given values from ?5 on, in field order.
extension LogTable {
    /// A record this replica never knew, created with the fields marked in `present` (by position
    /// in the entity's fields) non-NULL: its lifecycle and those fields written with the
    /// transaction's clock, which becomes the row's reference (so each stores `h` 0), and the
    /// record's number.
    func directInsert(present: [Bool]) -> String {
        var columns = ["id"]
        var values = ["?4"]
        var k = 5
        for (i, f) in entity.fields.enumerated() where present[i] {
            columns.append(f.name)
            values.append("?\(k)")
            k += 1
        }
        let written = [StoredRegister(h: 0)] + fieldPositions.map { present[$0] ? StoredRegister(h: 0) : .empty }
        let blob = RegisterBlob.encode(written).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }
        columns += ["cl", "seq", "t", "regs"]
        values += ["1", "?2", "?1", "x'\(blob.joined())'"]
        return "INSERT INTO \(live) (\(columns.joined(separator: ", "))) VALUES (\(values.joined(separator: ", ")))"
    }

    /// The fields marked in `given` (by position in the entity's fields) of a live record, with
    /// its new registers (?3, computed by ``RegisterRules/write(_:t:oldSeq:written:clock:mark:deletion:)``)
    /// when a synced field changed (`registers`); without, the registers stay.
    func directUpdate(given: [Bool], registers: Bool) -> String {
        var sets: [String] = []
        var k = 5
        for (i, f) in entity.fields.enumerated() where given[i] {
            sets.append("\(f.name) = ?\(k)")
            k += 1
        }
        if registers { sets += ["seq = ?2", "t = coalesce(t, ?1)", "pend = 0", "wseq = NULL", "regs = ?3"] }
        return "UPDATE \(live) SET \(sets.joined(separator: ", ")) WHERE rowid = ?4"
    }

    /// The same write in one statement that finds the live record by its id (?4), for given
    /// fields that are all synced: it writes only when a given value differs and the row has no
    /// pending register and a reference clock (the usual case), each given field's register
    /// written when its value differs (`kmk_write`, with the comparisons as its bits).
    func directCleanUpdate(given: [Bool]) -> String {
        var sets: [String] = []
        var differs: [String] = []
        var bits: [String] = []
        var k = 5
        for (i, f) in entity.fields.enumerated() where given[i] {
            let change = "\(f.name) IS NOT ?\(k)"
            sets.append("\(f.name) = ?\(k)")
            differs.append(change)
            if let p = fieldPositions.firstIndex(of: i) { bits.append("((\(change)) << \(p + 1))") }
            k += 1
        }
        sets.append("regs = kmk_write(regs, t, seq, \(bits.joined(separator: " | ")), ?1, ?3)")
        sets.append("seq = ?2")
        return "UPDATE \(live) SET \(sets.joined(separator: ", ")) WHERE id = ?4 AND (\(differs.joined(separator: " OR "))) "
            + "AND pend = 0 AND t IS NOT NULL"
    }

    /// Record ids as a JSON array, for statements that take a set of ids through `json_each`.
    static func idArray(_ ids: some Sequence<String>) -> String {
        var json: [UInt8] = [0x5B]
        for (k, id) in ids.enumerated() {
            if k > 0 { json.append(0x2C) }
            CanonicalJSON.append(string: id, to: &json)
        }
        json.append(0x5D)
        return String(decoding: json, as: UTF8.self)
    }
}
