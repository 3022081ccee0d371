import KMKModel

/// The statements with which kmk-sync's own imports capture changes themselves, with the
/// connection's triggers off (SPEC.md §4, "Direct capture"). Each writes the row and exactly the
/// registers the capture trigger would write for the same record; the register rules are the
/// triggers' (``write(_:when:_:)``), with the stamp as parameters instead of `kmk_stamp`:
/// ?1 the clock, ?2 the record's new sequence number, ?3 the push mark, ?4 the id (insert) or
/// rowid (update), and the given values from ?5 on, in field order.
extension LogTable {
    static let directStamp: Stamp = (h: "?1", rs: "?2", p: "?3", z: "0", pq: "NULL")

    /// A record this replica never knew, created with the fields marked in `present` (by position
    /// in the entity's fields) non-NULL, and its registers as the insert trigger writes them (the
    /// transaction's clock as the row's reference, so each written register stores 0 and no number).
    func directInsert(present: [Bool]) -> String {
        var columns = ["id"]
        var values = ["?4"]
        var k = 5
        for (i, f) in entity.fields.enumerated() where present[i] {
            columns.append(f.name)
            values.append("?\(k)")
            k += 1
        }
        columns += ["cl", "seq", "t", "h0"]
        values += ["1", "?2", "?1", "0"]
        for (i, f) in fields.enumerated() where present[fieldPositions[i]] {
            columns.append("h\(f.number)")
            values.append("0")
        }
        return "INSERT INTO \(live) (\(columns.joined(separator: ", "))) VALUES (\(values.joined(separator: ", ")))"
    }

    /// The fields marked in `given` (by position in the entity's fields) of a live record, and the
    /// registers of its synced fields marked in `changed` (by position in ``fields``) as the update
    /// trigger writes them; with none changed (only local fields), the registers stay.
    func directUpdate(given: [Bool], changed: [Bool]) -> String {
        var sets: [String] = []
        var k = 5
        for (i, f) in entity.fields.enumerated() where given[i] {
            sets.append("\(f.name) = ?\(k)")
            k += 1
        }
        if changed.contains(true) {
            sets += ["seq = ?2", LogTable.setReference(LogTable.directStamp)] + write(0, when: "0", LogTable.directStamp)
                + fields.enumerated().flatMap { write($1.number, when: changed[$0] ? "1" : "0", LogTable.directStamp) }
        }
        return "UPDATE \(live) SET \(sets.joined(separator: ", ")) WHERE rowid = ?4"
    }

    /// The same write as ``directUpdate(given:changed:)`` in one statement that finds the live
    /// record by its id (?4), for given fields that are all synced: it writes only when a given
    /// value differs and the row is ``settled``, and then leaves out the terms of the registers
    /// that are not given, which would leave them as they are. Each given field's register is
    /// written when its value differs (``write(_:when:_:)`` with the comparison as the condition).
    func directSettledUpdate(given: [Bool]) -> String {
        var sets: [String] = []
        var differs: [String] = []
        var k = 5
        for (i, f) in entity.fields.enumerated() where given[i] {
            let change = "\(f.name) IS NOT ?\(k)"
            sets.append("\(f.name) = ?\(k)")
            sets += write(f.number, when: change, LogTable.directStamp)
            differs.append(change)
            k += 1
        }
        sets.append("seq = ?2")
        return "UPDATE \(live) SET \(sets.joined(separator: ", ")) WHERE id = ?4 AND (\(differs.joined(separator: " OR "))) AND \(settled)"
    }

    /// Whether a live row's registers that a write leaves unchanged would keep their columns as
    /// they are (``write(_:when:_:)`` with "0", the push mark ?3): the record has its number and
    /// reference clock, is numbered above the push mark (not pushed since its last change), and
    /// no register stores a number that is pending or above the mark. That is the usual case
    /// between two pushes.
    var settled: String { settled(mark: "?3") }

    /// ``settled`` with the push mark as the SQL expression `mark`.
    func settled(mark: String) -> String {
        "(seq > \(mark) AND t IS NOT NULL AND NOT ifnull(" + registers.map { "q\($0) NOT BETWEEN 0 AND \(mark)" }.joined(separator: " OR ") + ", 0))"
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
